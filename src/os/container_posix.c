/*
 * container_posix.c -- os.h's container-process services for Linux: what an OCI runtime
 * (kapsul-runc, src/oci/runc_*.c) needs beyond files and sockets -- fork, a fifo gate, signals,
 * /proc liveness, network namespaces and exec of the delegate runtime. (Whole-file reads and
 * atomic writes are path_posix.c's.)
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "os/posix.h"

kpOs_err kpOs_fork(int *pid) {
    fflush(NULL); /* what stdio still buffers must not come out twice */
    pid_t p = fork();
    if (p < 0) return kpOsPosix_lastErr();
    *pid = (int)p;
    return KP_OS_OK;
}

kpOs_err kpOs_pipe(kpOs_fd fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? KP_OS_OK : kpOsPosix_lastErr(); }

kpOs_err kpOs_mkfifo(const char *path) { return mkfifo(path, 0600) == 0 ? KP_OS_OK : kpOsPosix_lastErr(); }

kpOs_err kpOs_signal(int pid, int sig) {
    if (pid <= 0) return KP_OS_EINVAL; /* never a process group or "every process" */
    return kill((pid_t)pid, sig) == 0 ? KP_OS_OK : kpOsPosix_lastErr();
}

/* The names runc's kill accepts (Go's unix.SignalNum table, the usual ones). */
static const struct {
    const char *name;
    int num;
} kp_signals[] = {
    { "HUP", SIGHUP },   { "INT", SIGINT },       { "QUIT", SIGQUIT }, { "ILL", SIGILL },
    { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },     { "IOT", SIGIOT },   { "BUS", SIGBUS },
    { "FPE", SIGFPE },   { "KILL", SIGKILL },     { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
    { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },     { "ALRM", SIGALRM }, { "TERM", SIGTERM },
    { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },
    { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },   { "XCPU", SIGXCPU },
    { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
    { "IO", SIGIO },     { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

int kpOs_signalNumber(const char *name) {
    if (name[0] >= '0' && name[0] <= '9') {
        char *end;
        long v = strtol(name, &end, 10);
        return *end || v <= 0 || v >= NSIG ? 0 : (int)v;
    }
    if (strncmp(name, "SIG", 3) == 0) name += 3;
    for (size_t i = 0; i < sizeof kp_signals / sizeof kp_signals[0]; i++)
        if (strcmp(name, kp_signals[i].name) == 0) return kp_signals[i].num;
    return 0;
}

/* /proc/PID/stat: "pid (comm) state ppid ... starttime" with starttime the 22nd field. comm may
 * hold spaces and parentheses, so the fields are counted from the last ')'. */
kpOs_err kpOs_procStart(int pid, uint64_t *start, bool *alive) {
    char path[64], buf[1024];
    *alive = false;
    *start = 0;
    if (pid <= 0) return KP_OS_OK;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT || errno == ESRCH ? KP_OS_OK : kpOsPosix_lastErr();
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return KP_OS_OK; /* it ended between open and read */
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ') return KP_OS_EIO;
    char state = p[2];
    p += 2;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    if (!p) return KP_OS_EIO;
    *start = strtoull(p, NULL, 10);
    *alive = state != 'Z' && state != 'X';
    return KP_OS_OK;
}

kpOs_err kpOs_netns(const char *path) {
    if (!path) return unshare(CLONE_NEWNET) == 0 ? KP_OS_OK : kpOsPosix_lastErr();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kpOsPosix_lastErr();
    int r = setns(fd, CLONE_NEWNET);
    kpOs_err e = r == 0 ? KP_OS_OK : kpOsPosix_lastErr();
    close(fd);
    return e;
}

kpOs_err kpOs_detach(void) {
    if (setsid() < 0 && errno != EPERM) return kpOsPosix_lastErr(); /* EPERM: already a leader */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP || s == SIGSEGV || s == SIGBUS) continue;
        signal(s, s == SIGPIPE ? SIG_IGN : SIG_DFL);
    }
    return KP_OS_OK;
}

kpOs_err kpOs_exec(const char *path, char *const argv[]) {
    fflush(NULL);
    execv(path, argv);
    return kpOsPosix_lastErr();
}

void kpOs_exitNow(int code) { _exit(code); }

int kpOs_pid(void) { return (int)getpid(); }

void kpOs_sleepNs(uint64_t ns) {
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

kpOs_err kpOs_cwd(char *buf, size_t cap) { return getcwd(buf, cap) ? KP_OS_OK : kpOsPosix_lastErr(); }
