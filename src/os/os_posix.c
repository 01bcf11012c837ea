/*
 * os_posix.c -- os.h for Linux and other POSIX systems: errors, mmap/mprotect, sigaction with an
 * alternate signal stack, clocks, a pthread watchdog, locks and randomness. Files are in
 * file_posix.c, sockets and polling in net_posix.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <ucontext.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "os/posix.h"

/* ---- Errors ----------------------------------------------------------------------------------
 * Generated from errors.def, so a name added there is translated here with no second list. */

kpOs_err kpOsPosix_err(int e) {
    switch (e) {
    case 0: return KP_OS_OK;
#define KP_OS_ERR(name, message) \
    case E##name:                \
        return KP_OS_E##name;
#include "os/errors.def"
#undef KP_OS_ERR
    default: return KP_OS_EIO;
    }
}

kpOs_err kpOsPosix_lastErr(void) { return kpOsPosix_err(errno); }

const char *kpOs_strerror(kpOs_err err) {
    static const char *const msgs[] = {
        "Success",
#define KP_OS_ERR(name, message) message,
#include "os/errors.def"
#undef KP_OS_ERR
        "Path leaves its directory",
    };
    return (unsigned)err < sizeof msgs / sizeof msgs[0] ? msgs[err] : "Unknown error";
}

/* The kernel reads struct iovec; converting (rather than casting kpOs_iov) keeps the C aliasing
 * rules and works whatever order a host declares the two fields in. */
int kpOsPosix_iovs(const kpOs_iov *iov, int n, struct iovec *out) {
    if (n > KP_OS_MAX_IOV) n = KP_OS_MAX_IOV;
    for (int i = 0; i < n; i++) {
        out[i].iov_base = iov[i].base;
        out[i].iov_len = iov[i].len;
    }
    return n < 0 ? 0 : n;
}

/* ---- Virtual memory ------------------------------------------------------------------------ */

void *kpOs_reserve(size_t size) {
    void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

bool kpOs_commit(void *base, size_t from, size_t to) {
    if (to <= from) return true;
    return mprotect((uint8_t *)base + from, to - from, PROT_READ | PROT_WRITE) == 0;
}

void kpOs_release(void *base, size_t size) {
    if (base) munmap(base, size);
}

/* memfd_create needs Linux 3.17; elsewhere there is no image file and templates copy instead. */
kpOs_err kpOs_imageCreate(const void *data, size_t len, const uint8_t *pages, kpOs_fd *out) {
    *out = KP_OS_NO_FD;
#ifdef MFD_CLOEXEC
    int fd = memfd_create("kapsul-image", MFD_CLOEXEC);
    if (fd < 0) return kpOsPosix_lastErr();
    const uint8_t *p = data;
    size_t page = kpOs_pageSize();
    if (ftruncate(fd, (off_t)len) != 0) goto fail;
    /* Runs of pages with data; the pages between stay holes (zero, and no memory). */
    for (size_t at = 0, end; at < len; at = end) {
        for (; pages && at < len && !pages[at / page]; at += page) {}
        for (end = at; end < len && (!pages || pages[end / page]); end += page) {}
        if (end > len) end = len;
        while (at < end) {
            ssize_t n = pwrite(fd, p + at, end - at, (off_t)at);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) goto fail;
            at += (size_t)n;
        }
    }
    *out = fd;
    return KP_OS_OK;
fail:;
    kpOs_err e = kpOsPosix_lastErr();
    close(fd);
    return e == KP_OS_OK ? KP_OS_EIO : e;
#else
    (void)data;
    (void)len;
    (void)pages;
    return KP_OS_ENOSYS;
#endif
}

bool kpOs_mapImage(void *base, size_t len, kpOs_fd image) {
    if (len == 0) return true;
    void *p = mmap(base, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, image, 0);
    return p == base;
}

void kpOs_prefault(void *p, size_t len) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    if (len == 0) return;
    uintptr_t page = (uintptr_t)kpOs_pageSize(), lo = (uintptr_t)p & ~(page - 1);
    uintptr_t hi = ((uintptr_t)p + len + page - 1) & ~(page - 1);
    (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE); /* EINVAL before Linux 5.14 */
#else
    (void)p;
    (void)len;
#endif
}

bool kpOs_discard(void *base, size_t len) {
#ifdef __linux__
    return len == 0 || madvise(base, len, MADV_DONTNEED) == 0;
#else
    (void)base;
    (void)len;
    return false;
#endif
}

bool kpOs_decommit(void *base, size_t from, size_t to) {
    if (to <= from) return true;
    uint8_t *p = (uint8_t *)base + from;
    void *q = mmap(p, to - from, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return q == p;
}

bool kpOs_privatePages(const void *base, size_t n, uint8_t *out) {
#ifdef __linux__
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    size_t page = kpOs_pageSize();
    uint64_t e[512];
    bool ok = true;
    for (size_t i = 0; ok && i < n;) {
        size_t k = n - i < 512 ? n - i : 512;
        ssize_t r = pread(fd, e, k * sizeof *e, (off_t)(((uintptr_t)base / page + i) * sizeof *e));
        if (r < 0 && errno == EINTR) continue;
        ok = r == (ssize_t)(k * sizeof *e);
        /* bit 63 present, 62 swapped, 61 a file page or shared anonymous memory */
        for (size_t j = 0; ok && j < k; j++)
            out[i + j] = ((e[j] >> 63 & 1) && !(e[j] >> 61 & 1)) || (e[j] >> 62 & 1);
        i += k;
    }
    close(fd);
    return ok;
#else
    (void)base;
    (void)n;
    (void)out;
    return false;
#endif
}

size_t kpOs_pageSize(void) {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/* ---- Faults ---------------------------------------------------------------------------------
 * The handler must run on an alternate stack: a guest fault can happen with little C stack left.
 * SA_NODEFER lets the runtime siglongjmp out without saving the signal mask at every entry into
 * wasm (sigsetjmp(.., 0) avoids a system call per call). */
static kpOs_faultFn fault_fn;
static volatile int fault_installed;
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_segv, old_bus;

static void fault_regs(const void *uctx, kpOs_faultRegs *regs) {
    const ucontext_t *uc = uctx;
    regs->n = 0;
#if defined(__x86_64__)
    for (int i = 0; i < NGREG && i < 40; i++) regs->r[regs->n++] = (uintptr_t)uc->uc_mcontext.gregs[i];
#elif defined(__aarch64__)
    for (int i = 0; i < 31; i++) regs->r[regs->n++] = (uintptr_t)uc->uc_mcontext.regs[i];
#else
    (void)uc;
#endif
}

static void on_signal(int sig, siginfo_t *info, void *uctx) {
    kpOs_faultRegs regs;
    fault_regs(uctx, &regs);
    if (fault_fn) fault_fn(info->si_addr, &regs);
    /* Not a guest fault: restore what was there before us and let the fault happen again. */
    sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

/* Per-thread alternate signal stacks are mmap'ed and released by a thread-exit destructor, so
 * threads that come and go (a server's workers) leave nothing behind (tests/unit/test_threads.c).
 * The main thread's stack lives until the process exits; being mmap'ed, not malloc'ed, it is
 * not a leak to LeakSanitizer or valgrind, so no suppression is needed. */
static pthread_key_t altstack_key;
static pthread_once_t altstack_once = PTHREAD_ONCE_INIT;
#define KP_ALTSTACK_SIZE ((size_t)65536 + (size_t)SIGSTKSZ)

static void altstack_release(void *mem) {
    stack_t ss = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
    sigaltstack(&ss, NULL);
    munmap(mem, KP_ALTSTACK_SIZE);
}

static bool altstack_key_ok;
static void altstack_key_init(void) {
    altstack_key_ok = pthread_key_create(&altstack_key, altstack_release) == 0;
}

bool kpOs_threadInit(void) {
    static __thread bool done;
    if (done) return true;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= 65536) {
        done = true;
        return true;
    }
    pthread_once(&altstack_once, altstack_key_init);
    if (!altstack_key_ok) return false;
    void *mem = mmap(NULL, KP_ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return false;
    stack_t ss = { .ss_sp = mem, .ss_size = KP_ALTSTACK_SIZE, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, KP_ALTSTACK_SIZE);
        return false;
    }
    /* The key's value is the thread-local pointer the exit destructor frees. Without it the
     * stack could never be released, so do without one rather than leak it. */
    if (pthread_setspecific(altstack_key, mem) != 0) {
        altstack_release(mem);
        return false;
    }
    done = true;
    return true;
}

bool kpOs_installFaultHandler(kpOs_faultFn on_fault) {
    bool ok = true;
    pthread_mutex_lock(&fault_lock);
    if (!fault_installed) {
        fault_fn = on_fault;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        ok = sigaction(SIGSEGV, &sa, &old_segv) == 0 && sigaction(SIGBUS, &sa, &old_bus) == 0;
        if (ok) fault_installed = 1;
    }
    pthread_mutex_unlock(&fault_lock);
    return ok && kpOs_threadInit();
}

/* ---- Time ------------------------------------------------------------------------------------ */

uint64_t kpOs_monotonicNs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void kpOs_sleepNs(uint64_t ns) {
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* WASI's clock ids map one to one onto the POSIX clocks. */
static const clockid_t clock_ids[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                       CLOCK_THREAD_CPUTIME_ID };

kpOs_err kpOs_clockNow(kpOs_clock clock, uint64_t *ns) {
    struct timespec ts;
    if ((unsigned)clock >= sizeof clock_ids / sizeof clock_ids[0] ||
        clock_gettime(clock_ids[clock], &ts) != 0)
        return KP_OS_EINVAL;
    *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return KP_OS_OK;
}

kpOs_err kpOs_clockRes(kpOs_clock clock, uint64_t *ns) {
    struct timespec ts;
    if ((unsigned)clock >= sizeof clock_ids / sizeof clock_ids[0] || clock_getres(clock_ids[clock], &ts) != 0)
        return KP_OS_EINVAL;
    *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return KP_OS_OK;
}

/* ---- Watchdog --------------------------------------------------------------------------------
 * One thread for the whole process sleeps until the earliest armed deadline, then ORs the bits
 * into the flag. Timers live in a small array; there are as many as threads running guests with
 * deadlines, so a linear scan is fine. The flag is written under the lock, which is what makes
 * kpOs_timerDisarm's promise ("not touched after return") hold.
 *
 * The thread is stopped and joined at process exit (atexit), so no thread is left running with
 * its stack and thread-local storage still allocated: valgrind counts those as "possibly lost".
 * A forked child has no watchdog thread, whatever its parent had: pthread_atfork resets the
 * state in the child, so the child's first timer starts its own thread and exit joins nothing. */
typedef struct wd_timer {
    kpOs_timer id;
    uint64_t deadline;
    int *flag;
    int bits;
} wd_timer;
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond;
static bool wd_started, wd_quit, wd_hooks;
static pthread_t wd_thread;
static wd_timer *wd_timers;
static size_t wd_n, wd_cap;
static kpOs_timer wd_next_id = 1;

static void *wd_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&wd_lock);
    while (!wd_quit) {
        uint64_t now = kpOs_monotonicNs(), earliest = UINT64_MAX;
        for (size_t i = 0; i < wd_n;) {
            if (wd_timers[i].deadline <= now) {
                __atomic_fetch_or(wd_timers[i].flag, wd_timers[i].bits, __ATOMIC_SEQ_CST);
                wd_timers[i] = wd_timers[--wd_n];
                continue;
            }
            if (wd_timers[i].deadline < earliest) earliest = wd_timers[i].deadline;
            i++;
        }
        if (earliest == UINT64_MAX) {
            pthread_cond_wait(&wd_cond, &wd_lock);
        } else {
            struct timespec ts = { .tv_sec = (time_t)(earliest / 1000000000u),
                                   .tv_nsec = (long)(earliest % 1000000000u) };
            pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
        }
    }
    pthread_mutex_unlock(&wd_lock);
    return NULL;
}

static void wd_stop(void) {
    pthread_mutex_lock(&wd_lock);
    bool running = wd_started;
    wd_quit = true;
    if (running) pthread_cond_signal(&wd_cond);
    pthread_mutex_unlock(&wd_lock);
    if (running) pthread_join(wd_thread, NULL);
    kp_free(wd_timers);
    wd_timers = NULL;
    wd_n = wd_cap = 0;
}

static void wd_before_fork(void) { pthread_mutex_lock(&wd_lock); }
static void wd_after_fork_parent(void) { pthread_mutex_unlock(&wd_lock); }
static void wd_after_fork_child(void) {
    wd_started = false; /* the thread was not copied; its timers belong to the parent */
    wd_n = 0;
    pthread_mutex_unlock(&wd_lock);
}

static bool wd_start(void) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    bool ok = pthread_create(&wd_thread, &at, wd_main, NULL) == 0;
    pthread_attr_destroy(&at);
    return ok;
}

kpOs_timer kpOs_timerArm(uint64_t deadline_ns, int *flag, int bits) {
    kpOs_timer id = 0;
    pthread_mutex_lock(&wd_lock);
    if (!wd_hooks) {
        /* Registered once, under the lock; if either fails the thread is simply never stopped. */
        wd_hooks = true;
        atexit(wd_stop);
        pthread_atfork(wd_before_fork, wd_after_fork_parent, wd_after_fork_child);
    }
    if (wd_quit) goto done; /* the process is exiting */
    if (!wd_started) wd_started = wd_start();
    if (!wd_started) goto done;
    if (wd_n == wd_cap) {
        size_t cap = wd_cap ? wd_cap * 2 : 8;
        wd_timer *t = kp_realloc(wd_timers, cap * sizeof *t);
        if (!t) goto done;
        wd_timers = t;
        wd_cap = cap;
    }
    id = wd_next_id++;
    wd_timers[wd_n++] = (wd_timer){ id, deadline_ns, flag, bits };
    pthread_cond_signal(&wd_cond);
done:
    pthread_mutex_unlock(&wd_lock);
    return id;
}

void kpOs_timerDisarm(kpOs_timer timer) {
    if (!timer) return;
    pthread_mutex_lock(&wd_lock);
    for (size_t i = 0; i < wd_n; i++) {
        if (wd_timers[i].id == timer) {
            wd_timers[i] = wd_timers[--wd_n];
            break;
        }
    }
    pthread_mutex_unlock(&wd_lock);
}

/* ---- Locks ----------------------------------------------------------------------------------- */

struct kpOs_mutex {
    pthread_mutex_t m;
};

kpOs_mutex *kpOs_mutexNew(void) {
    kpOs_mutex *m = kp_malloc(sizeof *m);
    if (m) pthread_mutex_init(&m->m, NULL);
    return m;
}
void kpOs_mutexFree(kpOs_mutex *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->m);
    kp_free(m);
}
void kpOs_mutexLock(kpOs_mutex *m) { pthread_mutex_lock(&m->m); }
void kpOs_mutexUnlock(kpOs_mutex *m) { pthread_mutex_unlock(&m->m); }

/* ---- Randomness and scheduling --------------------------------------------------------------
 * getrandom returns at most 32 MiB per call and may be interrupted, hence the loop. */

kpOs_err kpOs_random(void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((uint8_t *)buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return KP_OS_EIO;
        }
        done += (size_t)n;
    }
    return KP_OS_OK;
}

void kpOs_yield(void) { sched_yield(); }
