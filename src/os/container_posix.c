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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/un.h>
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

/* ---- Control groups ------------------------------------------------------------------------- */

#define KP_CGROUP_ROOT "/sys/fs/cgroup"
#define KP_CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC */

static bool cgroup_v2(void) {
    struct statfs fs;
    return statfs(KP_CGROUP_ROOT, &fs) == 0 && (unsigned long)fs.f_type == KP_CGROUP2_MAGIC;
}

static kpOs_err write_text(const char *dir, const char *name, const char *text) {
    char path[KP_OS_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) return KP_OS_ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return kpOsPosix_lastErr();
    ssize_t w = write(fd, text, strlen(text));
    kpOs_err e = w < 0 ? kpOsPosix_lastErr() : KP_OS_OK;
    close(fd);
    return e;
}

/* The v1 hierarchies to use: the mount points of every "cgroup" mount but cpuset's, from
 * /proc/self/mountinfo ("ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPEROPTS").
 * Calls fn for each; stops at its first error. */
static kpOs_err each_v1(kpOs_err (*fn)(const char *mount, void *arg), void *arg) {
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return kpOsPosix_lastErr();
    char line[4096];
    kpOs_err e = KP_OS_OK;
    while (e == KP_OS_OK && fgets(line, sizeof line, f)) {
        char *sep = strstr(line, " - ");
        char mount[1024], fstype[64], super[1024];
        if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mount) != 1 ||
            sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2)
            continue;
        if (strcmp(fstype, "cgroup") != 0) continue;
        bool cpuset = false;
        char *save = NULL;
        for (char *opt = strtok_r(super, ",", &save); opt; opt = strtok_r(NULL, ",", &save))
            if (strcmp(opt, "cpuset") == 0) cpuset = true;
        if (!cpuset) e = fn(mount, arg);
    }
    fclose(f);
    return e;
}

typedef struct kpCgJoin {
    const char *path;
    int pid;
    uint64_t memory_limit;
    bool v2;
} kpCgJoin;

/* mkdir each level of path beneath mount; in v2, enable memory and pids for the children of
 * every level above the leaf (the kernel refuses what the parent has not enabled). */
static kpOs_err join_one(const char *mount, void *arg) {
    const kpCgJoin *j = arg;
    char dir[KP_OS_PATH_MAX], num[32];
    size_t n = (size_t)snprintf(dir, sizeof dir, "%s%s", mount, j->path);
    if (n >= sizeof dir) return KP_OS_ENAMETOOLONG;
    for (size_t i = strlen(mount) + 1; i <= n; i++) {
        if (dir[i] != '/' && dir[i] != 0) continue;
        char c = dir[i];
        dir[i] = 0;
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) return kpOsPosix_lastErr();
        if (j->v2 && c == '/') write_text(dir, "cgroup.subtree_control", "+memory +pids");
        dir[i] = c;
    }
    if (j->v2 && j->memory_limit) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)j->memory_limit);
        kpOs_err e = write_text(dir, "memory.max", num);
        if (e != KP_OS_OK) return e;
    } else if (j->memory_limit && strstr(mount, "memory")) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)j->memory_limit);
        kpOs_err e = write_text(dir, "memory.limit_in_bytes", num);
        if (e != KP_OS_OK) return e;
    }
    snprintf(num, sizeof num, "%d", j->pid ? j->pid : (int)getpid());
    return write_text(dir, "cgroup.procs", num);
}

static bool cgroup_path_ok(const char *path) {
    if (path[0] != '/' || strlen(path) >= 1024) return false;
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
        if (p[-1] == '/' && (p[2] == '/' || p[2] == 0)) return false;
    return true;
}

kpOs_err kpOs_cgroupJoin(const char *path, int pid, uint64_t memory_limit) {
    if (!cgroup_path_ok(path)) return KP_OS_EINVAL;
    kpCgJoin j = { path, pid, memory_limit, cgroup_v2() };
    return j.v2 ? join_one(KP_CGROUP_ROOT, &j) : each_v1(join_one, &j);
}

static kpOs_err remove_one(const char *mount, void *arg) {
    char dir[KP_OS_PATH_MAX];
    if ((size_t)snprintf(dir, sizeof dir, "%s%s", mount, (const char *)arg) < sizeof dir) rmdir(dir);
    return KP_OS_OK;
}

void kpOs_cgroupRemove(const char *path) {
    if (!cgroup_path_ok(path) || strcmp(path, "/") == 0) return;
    if (cgroup_v2()) remove_one(KP_CGROUP_ROOT, (void *)path);
    else each_v1(remove_one, (void *)path);
}

/* ---- Console (process.terminal) ------------------------------------------------------------- */

static kpOs_err send_fd(const char *socket_path, const char *name, int fd) {
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof addr.sun_path) return KP_OS_ENAMETOOLONG;
    strcpy(addr.sun_path, socket_path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return kpOsPosix_lastErr();
    kpOs_err e = KP_OS_OK;
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        e = kpOsPosix_lastErr();
        close(s);
        return e;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = { (void *)name, strlen(name) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf
    };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(s, &msg, MSG_NOSIGNAL) < 0) e = kpOsPosix_lastErr();
    close(s);
    return e;
}

kpOs_err kpOs_consoleToSocket(const char *socket_path) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return kpOsPosix_lastErr();
    kpOs_err e = KP_OS_OK;
    char name[128];
    int slave = -1;
    if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, sizeof name) != 0 ||
        (slave = open(name, O_RDWR | O_NOCTTY)) < 0) {
        e = kpOsPosix_lastErr();
        goto out;
    }
    if ((e = send_fd(socket_path, name, master)) != KP_OS_OK) goto out;
    if (ioctl(slave, TIOCSCTTY, 0) != 0) {
        e = kpOsPosix_lastErr();
        goto out;
    }
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0) {
            e = kpOsPosix_lastErr();
            goto out;
        }
out:
    if (slave > 2) close(slave);
    close(master);
    return e;
}
