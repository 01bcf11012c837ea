/*
 * os.h -- every operating-system service the runtime uses, behind one header; one file per OS
 * (os_posix.c for Linux and other POSIX systems).
 *
 * Services: address-space reservation with page commit (linear memories with guard regions),
 * the fault handler that turns a guest's out-of-bounds access into a trap, a monotonic clock,
 * a watchdog that raises interrupt flags at deadlines, and a mutex.
 */
#ifndef KP_OS_H
#define KP_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Virtual memory ------------------------------------------------------------------------ */

/* Reserve `size` bytes of address space with no access (nothing committed). NULL on failure
 * (e.g. RLIMIT_AS), in which case callers fall back to explicitly bounds-checked memory. */
void *kpOs_reserve(size_t size);
/* Make [base+from, base+to) readable and writable. The pages read as zero the first time.
 * Returns false if the system refuses (out of memory). */
bool kpOs_commit(void *base, size_t from, size_t to);
void kpOs_release(void *base, size_t size);
size_t kpOs_pageSize(void);

/* ---- Faults ---------------------------------------------------------------------------------- */

/* Install (once per process; later calls are no-ops) a SIGSEGV/SIGBUS handler running on an
 * alternate signal stack. On a fault it calls `is_guest` with the faulting address; when that
 * returns it does not return (it siglongjmps back into the runtime). Otherwise the handler
 * restores the default action and returns, so the fault repeats and kills the process as usual.
 * Each thread that runs wasm calls kpOs_threadInit() to get its alternate signal stack. */
typedef void (*kpOs_faultFn)(void *addr);
bool kpOs_installFaultHandler(kpOs_faultFn on_fault);
bool kpOs_threadInit(void);

/* ---- Time and the watchdog ------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t kpOs_monotonicNs(void);

/* Arm a one-shot timer: at time deadline_ns (CLOCK_MONOTONIC), `*flag |= bits` atomically (from
 * the watchdog thread). Returns a handle > 0, or 0 if the watchdog could not start. */
typedef uint64_t kpOs_timer;
kpOs_timer kpOs_timerArm(uint64_t deadline_ns, int *flag, int bits);
/* Disarm (no-op if it already fired). After this returns, the flag is no longer touched. */
void kpOs_timerDisarm(kpOs_timer timer);

/* ---- Locks ----------------------------------------------------------------------------------- */

typedef struct kpOs_mutex kpOs_mutex;
kpOs_mutex *kpOs_mutexNew(void);
void kpOs_mutexFree(kpOs_mutex *m);
void kpOs_mutexLock(kpOs_mutex *m);
void kpOs_mutexUnlock(kpOs_mutex *m);

#endif /* KP_OS_H */
