/*
 * posix.h -- what the POSIX files of os/ share: the host errno translation and the iovec
 * conversion. Included only by *_posix.c.
 */
#ifndef KP_OS_POSIX_H
#define KP_OS_POSIX_H

#include <sys/uio.h>

#include "os/os.h"

/* Host errno -> kpOs_err (KP_OS_EIO for one errors.def does not list). */
kpOs_err kpOsPosix_err(int host_errno);
/* errno of the call that just failed, as a kpOs_err. */
kpOs_err kpOsPosix_lastErr(void);
/* Copy n kapsul iovecs (n <= KP_OS_MAX_IOV) into host ones; returns the count to pass on. */
int kpOsPosix_iovs(const kpOs_iov *iov, int n, struct iovec *out);

#endif /* KP_OS_POSIX_H */
