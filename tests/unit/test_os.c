/*
 * test_os.c -- the OS layer (src/os/os.h) on its own: error translation, opening beneath a
 * directory (the kernel's way and the refusal that sends callers to their own walk, including the
 * one-time detection raced by many threads in a fresh process), the *at() calls, directory
 * streams, vectored I/O with the SIGPIPE and O_APPEND rules, polling, sockets, clocks,
 * randomness, and which pages of a copy-on-write image were written. wasi/'s own behaviour is tested through kapsul.h (test_wasi.c) and the suites.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/os.h"
#include "test.h"
#include "wasi/wasi.h"

static char root[64];

static void make_tree(void) {
    strcpy(root, "/tmp/kapsul-test-os-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/box", root);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/box/sub", root);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/outside", root);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    snprintf(p, sizeof p, "%s/box/out", root);
    CHECK(symlink("../outside", p) == 0);
    snprintf(p, sizeof p, "%s/box/in", root);
    CHECK(symlink("sub", p) == 0);
}

static void remove_tree(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

static kpOs_fd open_box(void) {
    char p[256];
    kpOs_fd fd = KP_OS_NO_FD;
    snprintf(p, sizeof p, "%s/box", root);
    CHECK(kpOs_openDir(p, &fd) == KP_OS_OK);
    return fd;
}

static void test_errors(void) {
    kpOs_fd fd;
    CHECK(kpOs_openDir("/nonexistent/kapsul", &fd) == KP_OS_ENOENT);
    CHECK(strcmp(kpOs_strerror(KP_OS_ENOENT), "No such file or directory") == 0);
    CHECK(strcmp(kpOs_strerror(KP_OS_OK), "Success") == 0);
    CHECK(strcmp(kpOs_strerror((kpOs_err)9999), "Unknown error") == 0);
    /* wasi/ maps by name: a few spot checks of the generated switch. */
    CHECK(kpWasi_errno(KP_OS_OK) == KP_WE_SUCCESS);
    CHECK(kpWasi_errno(KP_OS_ENOENT) == KP_WE_NOENT);
    CHECK(kpWasi_errno(KP_OS_EXDEV) == KP_WE_XDEV);
    CHECK(kpWasi_errno(KP_OS_ENOTCAPABLE) == KP_WE_NOTCAPABLE);
}

/* With the kernel's resolution every escape is ENOTCAPABLE; without it every call is ENOSYS. */
static int check_beneath(kpOs_fd box, bool expect_kernel) {
    static const char *const escapes[] = { "..", "../outside", "out", "sub/../..", "/etc/passwd" };
    int bad = 0;
    kpOs_fd fd;
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        kpOs_err e = kpOs_openBeneath(box, escapes[i], KP_OS_O_READ, &fd);
        if (e != (expect_kernel ? KP_OS_ENOTCAPABLE : KP_OS_ENOSYS)) bad++;
        if (e == KP_OS_OK) kpOs_close(fd);
    }
    kpOs_err e = kpOs_openBeneath(box, "in/../sub", KP_OS_O_PATH | KP_OS_O_DIRECTORY, &fd);
    if (e != (expect_kernel ? KP_OS_OK : KP_OS_ENOSYS)) bad++;
    if (e == KP_OS_OK) kpOs_close(fd);
    return bad;
}

static void *race_beneath(void *arg) {
    kpOs_fd fd;
    kpOs_err e = kpOs_openBeneath(*(kpOs_fd *)arg, "sub", KP_OS_O_PATH | KP_OS_O_DIRECTORY, &fd);
    if (e == KP_OS_OK) kpOs_close(fd);
    return (void *)(intptr_t)e;
}

/* In a fresh process (the decision is once per process): eight threads race to be the first
 * caller and must all get the same answer, which must agree with check_beneath's. */
static int child_beneath(bool forced_walk) {
    if (forced_walk) setenv("KAPSUL_WASI_NO_OPENAT2", "1", 1);
    else unsetenv("KAPSUL_WASI_NO_OPENAT2");
    kpOs_fd box = open_box();
    pthread_t t[8];
    intptr_t first = -1;
    int bad = 0;
    for (int i = 0; i < 8; i++)
        if (pthread_create(&t[i], NULL, race_beneath, &box) != 0) return 100;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        if (first < 0) first = (intptr_t)r;
        if ((intptr_t)r != first) bad++;
    }
    bool kernel = first == KP_OS_OK;
#ifdef KP_TESTING
    if (forced_walk && kernel) bad++;
#endif
    if (!kernel && first != KP_OS_ENOSYS) bad++;
    bad += check_beneath(box, kernel);
    kpOs_close(box);
    return bad ? 1 : 0;
}

static void test_beneath(void) {
    for (int forced = 0; forced < 2; forced++) {
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) _exit(child_beneath(forced));
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

static void test_at_calls(void) {
    kpOs_fd box = open_box(), fd = KP_OS_NO_FD;
    kpOs_stat st;
    char buf[64];
    size_t n = 0;
    CHECK(kpOs_lstatAt(box, "out", &st) == KP_OS_OK && st.type == KP_OS_FT_SYMLINK);
    CHECK(kpOs_readlinkAt(box, "out", buf, sizeof buf, &n) == KP_OS_OK && n == 10 &&
          memcmp(buf, "../outside", 10) == 0);
    CHECK(kpOs_openAt(box, "out", KP_OS_O_READ | KP_OS_O_NOFOLLOW, &fd) == KP_OS_ELOOP);
    CHECK(kpOs_mkdirAt(box, "made") == KP_OS_OK);
    CHECK(kpOs_mkdirAt(box, "made") == KP_OS_EEXIST);
    unsigned create = KP_OS_O_WRITE | KP_OS_O_CREAT | KP_OS_O_EXCL;
    CHECK(kpOs_openAt(box, "made/f", create, &fd) == KP_OS_OK);
    CHECK(kpOs_fstat(fd, &st) == KP_OS_OK && st.type == KP_OS_FT_FILE && st.size == 0);
    kpOs_time t[2] = { { 1000000000u * 5 + 7, KP_OS_TIME_SET }, { 0, KP_OS_TIME_OMIT } };
    CHECK(kpOs_setTimes(fd, t) == KP_OS_OK);
    CHECK(kpOs_fstat(fd, &st) == KP_OS_OK && st.atim == 1000000000u * 5 + 7);
    kpOs_close(fd);
    CHECK(kpOs_renameAt(box, "made", box, "moved") == KP_OS_OK);
    CHECK(kpOs_unlinkAt(box, "moved", true) == KP_OS_ENOTEMPTY);
    CHECK(kpOs_linkAt(box, "moved/f", box, "moved/g") == KP_OS_OK);
    CHECK(kpOs_lstatAt(box, "moved/g", &st) == KP_OS_OK && st.nlink == 2);
    CHECK(kpOs_symlinkAt("f", box, "moved/l") == KP_OS_OK);
    CHECK(kpOs_setTimesAt(box, "moved/l", t) == KP_OS_OK);
    CHECK(kpOs_unlinkAt(box, "moved/f", false) == KP_OS_OK);
    CHECK(kpOs_unlinkAt(box, "moved/g", false) == KP_OS_OK);
    CHECK(kpOs_unlinkAt(box, "moved/l", false) == KP_OS_OK);
    CHECK(kpOs_unlinkAt(box, "moved", true) == KP_OS_OK);
    kpOs_close(box);
}

static void test_dir_stream(void) {
    kpOs_fd box = open_box();
    kpOs_dir *d = NULL;
    CHECK(kpOs_dirOpen(box, &d) == KP_OS_OK);
    if (!d) return;
    int seen = 0, total = 0;
    uint64_t pos_sub = 0;
    for (;;) {
        uint64_t pos = kpOs_dirTell(d);
        kpOs_dirent de;
        bool end;
        CHECK(kpOs_dirRead(d, &de, &end) == KP_OS_OK);
        if (end) break;
        total++;
        if (strcmp(de.name, "sub") == 0 && de.type == KP_OS_FT_DIR) {
            seen |= 1;
            pos_sub = pos;
        }
        if (strcmp(de.name, "out") == 0 && de.type == KP_OS_FT_SYMLINK) seen |= 2;
    }
    CHECK(seen == 3 && total == 5); /* ".", "..", sub, out, in */
    kpOs_dirSeek(d, pos_sub);
    kpOs_dirent de;
    bool end = true;
    CHECK(kpOs_dirRead(d, &de, &end) == KP_OS_OK && !end && strcmp(de.name, "sub") == 0);
    kpOs_dirRewind(d);
    int again = 0;
    while (kpOs_dirRead(d, &de, &end) == KP_OS_OK && !end) again++;
    CHECK(again == total);
    kpOs_dirClose(d);
    kpOs_close(box);
}

static void test_io(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    char a[] = "hello, ", b[] = "world", out[16] = { 0 };
    kpOs_iov w[2] = { { a, 7 }, { b, 5 } }, r[2] = { { out, 3 }, { out + 3, 13 } };
    size_t done = 0;
    CHECK(kpOs_write(p[1], w, 2, &done) == KP_OS_OK && done == 12);
    kpOs_pollfd pf[2] = { { p[0], KP_OS_POLL_IN, 0 }, { KP_OS_NO_FD, KP_OS_POLL_IN, 0 } };
    int ready = 0;
    CHECK(kpOs_poll(pf, 2, 0, &ready) == KP_OS_OK && ready == 1);
    CHECK((pf[0].revents & KP_OS_POLL_IN) && pf[1].revents == 0);
    CHECK(kpOs_bytesReady(p[0]) == 12);
    CHECK(kpOs_read(p[0], r, 2, &done) == KP_OS_OK && done == 12);
    CHECK(strcmp(out, "hello, world") == 0);
    CHECK(kpOs_poll(pf, 1, 1000000, &ready) == KP_OS_OK && ready == 0);
    uint64_t pos;
    CHECK(kpOs_seek(p[0], 0, KP_OS_SEEK_CUR, &pos) == KP_OS_ESPIPE);
    /* The reader goes away: EPIPE, and this process is still here. */
    close(p[0]);
    CHECK(kpOs_writeQuiet(p[1], w, 2, &done) == KP_OS_EPIPE);
    close(p[1]);

    /* pwrite writes at its offset even on an append-mode handle, and leaves it in append mode. */
    kpOs_fd box = open_box(), fd;
    unsigned fl = 0;
    CHECK(kpOs_openAt(box, "app", KP_OS_O_READ | KP_OS_O_WRITE | KP_OS_O_CREAT | KP_OS_O_APPEND, &fd) ==
          KP_OS_OK);
    CHECK(kpOs_write(fd, w, 2, &done) == KP_OS_OK);
    kpOs_iov x = { "J", 1 };
    CHECK(kpOs_pwrite(fd, &x, 1, 0, &done) == KP_OS_OK && done == 1);
    CHECK(kpOs_getFlags(fd, &fl) == KP_OS_OK && (fl & KP_OS_O_APPEND));
    memset(out, 0, sizeof out);
    CHECK(kpOs_pread(fd, r, 2, 0, &done) == KP_OS_OK && done == 12);
    CHECK(strcmp(out, "Jello, world") == 0);
    CHECK(kpOs_setFlags(fd, KP_OS_O_NONBLOCK) == KP_OS_OK);
    CHECK(kpOs_getFlags(fd, &fl) == KP_OS_OK && fl == KP_OS_O_NONBLOCK);
    CHECK(kpOs_truncate(fd, 3) == KP_OS_OK);
    CHECK(kpOs_seek(fd, 0, KP_OS_SEEK_END, &pos) == KP_OS_OK && pos == 3);
    CHECK(kpOs_allocate(fd, 0, 100) == KP_OS_OK);
    CHECK(kpOs_advise(fd, 0, 0, KP_OS_ADV_RANDOM) == KP_OS_OK);
    CHECK(kpOs_sync(fd, true) == KP_OS_OK);
    kpOs_fd dup = KP_OS_NO_FD;
    CHECK(kpOs_dup(fd, &dup) == KP_OS_OK && dup > 2);
    kpOs_close(dup);
    kpOs_close(fd);
    CHECK(kpOs_unlinkAt(box, "app", false) == KP_OS_OK);
    kpOs_close(box);
}

static void test_sockets_clocks_random(void) {
    kpOs_addr a = { 0 };
    CHECK(kpOs_parseIp("127.0.0.1", 4, &a) && a.ip[0] == 127 && a.ip[3] == 1);
    CHECK(kpOs_parseIp("::1", 6, &a) && a.ip[15] == 1);
    CHECK(!kpOs_parseIp("::1", 4, &a) && !kpOs_parseIp("1.2.3", 4, &a));
    kpOs_fd fd;
    a.family = 5;
    CHECK(kpOs_listen(&a, 1, &fd) == KP_OS_EAFNOSUPPORT);
    CHECK(kpOs_parseIp("127.0.0.1", 4, &a));
    a.port = 0;
    CHECK(kpOs_listen(&a, 1, &fd) == KP_OS_OK);
    kpOs_pollfd pf = { fd, KP_OS_POLL_IN, 0 };
    int ready = -1;
    CHECK(kpOs_poll(&pf, 1, 0, &ready) == KP_OS_OK && ready == 0);
    kpOs_close(fd);

    uint64_t t0 = 0, t1 = 0, res = 0;
    CHECK(kpOs_clockNow(KP_OS_CLOCK_MONOTONIC, &t0) == KP_OS_OK);
    CHECK(kpOs_clockNow(KP_OS_CLOCK_MONOTONIC, &t1) == KP_OS_OK && t1 >= t0);
    CHECK(kpOs_clockRes(KP_OS_CLOCK_REALTIME, &res) == KP_OS_OK);
    CHECK(kpOs_clockNow((kpOs_clock)7, &t0) == KP_OS_EINVAL);
    uint8_t buf[64] = { 0 }, zero[64] = { 0 };
    CHECK(kpOs_random(buf, sizeof buf) == KP_OS_OK && memcmp(buf, zero, sizeof buf) != 0);
    CHECK(kpOs_random(buf, 0) == KP_OS_OK);
    kpOs_yield();
}

/* Pages written since an image was mapped are told apart from pages read or never touched,
 * also in a forked child (the module templates' reset rewrites only those). */
static void test_private_pages(void) {
    size_t page = kpOs_pageSize();
    uint8_t *data = calloc(4, page), f[8] = { 0 };
    kpOs_fd fd = KP_OS_NO_FD;
    uint8_t *base = kpOs_reserve(8 * page);
    CHECK(data && base && kpOs_imageCreate(data, 4 * page, NULL, &fd) == KP_OS_OK);
    CHECK(base && kpOs_mapImage(base, 4 * page, fd) && kpOs_commit(base, 4 * page, 8 * page));
    if (!base || fd == KP_OS_NO_FD) return;
    volatile uint8_t sink = base[0];         /* read from the image */
    base[page] = 1;                          /* written: a private copy */
    sink = (uint8_t)(sink + base[4 * page]); /* read from anonymous memory (the zero page) */
    base[5 * page] = 1;                      /* written */
    (void)sink;
#ifdef __linux__
    CHECK(kpOs_privatePages(base, 8, f));
    CHECK(f[0] == 0 && f[1] == 1 && f[2] == 0 && f[3] == 0 && f[5] == 1 && f[6] == 0 && f[7] == 0);
    pid_t pid = fork();
    if (pid == 0) { /* the child's own copies: its pages are private (copy-on-write after fork) */
        uint8_t g[8] = { 0 };
        base[2 * page] = 1;
        _exit(kpOs_privatePages(base, 8, g) && g[2] == 1 && g[3] == 0 ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(kpOs_privatePages(base, 8, f) && f[2] == 0);
#else
    CHECK(!kpOs_privatePages(base, 8, f));
#endif
    kpOs_release(base, 8 * page);
    kpOs_close(fd);
    free(data);
}

int main(void) {
    make_tree();
    test_private_pages();
    test_errors();
    test_beneath();
    test_at_calls();
    test_dir_stream();
    test_io();
    test_sockets_clocks_random();
    remove_tree();
    return kpt_finish();
}
