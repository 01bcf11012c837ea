/* spawnstat: a measuring tool of the harness, not a benchmark. Runs a command
 * RUNS times (fork, execvp, wait4) with its output discarded, and prints the
 * wall time of each whole process (median, mean, min, standard deviation) and
 * its peak resident set size and user+system CPU time from wait4's rusage.
 *
 * Why a separate static binary: Linux carries a process's RSS high-water mark
 * across execve, so ru_maxrss can never be lower than the RSS of the process
 * that forked and exec'd. Spawned from Python (~16 MB) every program would
 * report at least 16 MB. This tool is linked statically and stays well under
 * 1 MB, so the floor it imposes is below any real program's footprint.
 *
 * Usage: spawnstat RUNS COMMAND [ARGS...]   (exit 1 if any run fails) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: spawnstat RUNS COMMAND [ARGS...]\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    if (runs < 1) runs = 1;
    double *us = malloc(sizeof *us * (size_t)runs);
    long *rss = malloc(sizeof *rss * (size_t)runs);
    double cpu = 0;
    if (!us || !rss) return 2;
    for (int i = 0; i < runs; i++) {
        struct rusage ru;
        int status;
        double t0 = now_us();
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            int fd = open("/dev/null", O_RDWR);
            if (fd >= 0) {
                dup2(fd, 0);
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execvp(argv[2], argv + 2);
            _exit(127);
        }
        if (wait4(pid, &status, 0, &ru) < 0) {
            perror("wait4");
            return 1;
        }
        us[i] = now_us() - t0;
        rss[i] = ru.ru_maxrss;
        cpu += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "spawnstat: run %d of %s failed (status %d)\n", i, argv[2], status);
            return 1;
        }
    }
    double sum = 0, sq = 0;
    for (int i = 0; i < runs; i++) sum += us[i];
    double mean = sum / runs;
    for (int i = 0; i < runs; i++) sq += (us[i] - mean) * (us[i] - mean);
    qsort(us, (size_t)runs, sizeof *us, cmp_double);
    qsort(rss, (size_t)runs, sizeof *rss, cmp_long);
    double med = runs % 2 ? us[runs / 2] : (us[runs / 2 - 1] + us[runs / 2]) / 2;
    printf(
        "runs %d median_us %.1f mean_us %.1f min_us %.1f stddev_us %.1f maxrss_kb_median %ld maxrss_kb_max %ld cpu_us_mean %.1f\n",
        runs, med, mean, us[0], runs > 1 ? sqrt(sq / (runs - 1)) : 0.0, rss[runs / 2], rss[runs - 1],
        cpu / runs);
    free(us);
    free(rss);
    return 0;
}
