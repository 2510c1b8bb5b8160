/*
 * rusage-exec: run one command and report its wall time and resource usage.
 *
 *     rusage-exec OUTFILE CMD [ARGS...]
 *
 * Writes one line to OUTFILE:
 *
 *     <wall ns> <ru_maxrss KiB> <ru_utime us> <ru_stime us> <wait status>
 *
 * Why a separate small process: on Linux a child's ru_maxrss is at least the
 * peak RSS of the process it was forked from (fork and vfork both carry the
 * parent's RSS high-water mark, and exec records it), so a command spawned
 * straight from the Python harness would report the harness's ~25 MiB. Forked
 * from this process it reports its own peak, plus at most this process's
 * ~1 MiB.
 *
 * Exit status: 0 when the command ran (its own status is in OUTFILE), 125 on
 * a usage or system error, 127 when CMD could not be executed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long us(const struct timeval *t)
{
    return (long long)t->tv_sec * 1000000LL + t->tv_usec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rusage-exec OUTFILE CMD [ARGS...]\n");
        return 125;
    }
    /* "e": close-on-exec, so the command does not inherit it. */
    FILE *out = fopen(argv[1], "we");
    if (out == NULL) {
        fprintf(stderr, "rusage-exec: cannot open %s: %s\n", argv[1], strerror(errno));
        return 125;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "rusage-exec: fork: %s\n", strerror(errno));
        return 125;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "rusage-exec: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }

    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "rusage-exec: wait4: %s\n", strerror(errno));
            return 125;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    fprintf(out, "%lld %ld %lld %lld %d\n", ns(&t1) - ns(&t0), ru.ru_maxrss, us(&ru.ru_utime),
            us(&ru.ru_stime), status);
    if (fclose(out) != 0) {
        fprintf(stderr, "rusage-exec: writing %s: %s\n", argv[1], strerror(errno));
        return 125;
    }
    return 0;
}
