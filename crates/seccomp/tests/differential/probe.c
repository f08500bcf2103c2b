/*
 * Syscall probe for the runc differential test (build: gcc -static -O1).
 *
 *   probe [FILTER.bpf FLAGS]
 *
 * With FILTER.bpf (raw struct sock_filter array) it first installs that filter
 * itself with seccomp(SECCOMP_SET_MODE_FILTER, FLAGS, ...); without, it relies
 * on whatever filter the runtime installed before execve.
 *
 * Then, for every syscall number of the x86_64 (syscall), x32 (syscall with
 * nr | 0x40000000) and i386 (int 0x80) ABIs, it forks a child that calls the
 * syscall with all six arguments = A, for A = -1 (invalid pointers/fds/flags,
 * so nothing happens) and A = 0 (exercises the profiles' "arg == 0" rules,
 * e.g. personality(0), clone flags; run it only inside a container), and
 * prints one line "ABI NR A RESULT" where RESULT is
 *   ok          the syscall returned >= 0
 *   eN          it returned -N (errno N)
 *   sigN        the child was killed by signal N (SIGSYS=31 for KILL/TRAP)
 *   exitN       the child exited with N without reporting (exit/exit_group)
 * A child still blocked after 3 s is killed (sig9).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long sys64(long nr, long a) {
    long r;
    register long r10 __asm__("r10") = a;
    register long r8 __asm__("r8") = a;
    register long r9 __asm__("r9") = a;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(nr), "D"(a), "S"(a), "d"(a), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}

static long sys32(long nr, long a) {
    long r;
    a &= 0xffffffffL;
    /* int 0x80 uses ebx, ecx, edx, esi, edi, ebp; rbx/rbp are callee-saved. */
    __asm__ volatile("push %%rbx\n\t"
                     "push %%rbp\n\t"
                     "mov %%rcx, %%rbx\n\t"
                     "mov %%rcx, %%rbp\n\t"
                     "int $0x80\n\t"
                     "pop %%rbp\n\t"
                     "pop %%rbx"
                     : "=a"(r)
                     : "a"(nr), "c"(a), "d"(a), "S"(a), "D"(a)
                     : "memory");
    if (r >= 0x80000000L) r -= 0x100000000L; /* eax is 32-bit: sign-extend */
    return r;
}

static void probe(const char *abi, long nr, long a) {
    int p[2];
    if (pipe(p) < 0) { perror("pipe"); exit(2); }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        close(p[0]);
        setsid();
        alarm(1);
        long r;
        if (abi[0] == 'i') r = sys32(nr, a);
        else if (abi[1] == '3') r = sys64(nr | 0x40000000L, a);
        else r = sys64(nr, a);
        char buf[32];
        int n = r >= 0 ? snprintf(buf, sizeof buf, "ok\n")
                       : snprintf(buf, sizeof buf, "e%ld\n", -r);
        (void)!write(p[1], buf, n);
        _exit(0);
    }
    close(p[1]);
    /* A child blocked in e.g. sigsuspend(all signals masked) ignores alarm(). */
    struct pollfd pfd = { .fd = p[0], .events = POLLIN };
    if (poll(&pfd, 1, 3000) == 0) kill(pid, SIGKILL);
    char buf[64];
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf - 1 && (k = read(p[0], buf + n, sizeof buf - 1 - n)) > 0) n += k;
    close(p[0]);
    buf[n > 0 ? n : 0] = 0;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    if (buf[0]) printf("%s %ld %ld %s\n", abi, nr, a, buf);
    else if (WIFSIGNALED(st)) printf("%s %ld %ld sig%d\n", abi, nr, a, WTERMSIG(st));
    else printf("%s %ld %ld exit%d\n", abi, nr, a, WEXITSTATUS(st));
}

int main(int argc, char **argv) {
    if (argc >= 3) {
        int fd = open(argv[1], O_RDONLY);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) < 0) { perror(argv[1]); return 2; }
        struct sock_filter *f = malloc(sb.st_size);
        if (read(fd, f, sb.st_size) != sb.st_size) { perror("read"); return 2; }
        struct sock_fprog prog = { .len = sb.st_size / sizeof *f, .filter = f };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) { perror("prctl"); return 2; }
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, strtoul(argv[2], 0, 0), &prog) < 0) {
            perror("seccomp"); return 2;
        }
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    for (long a = -1; a <= 0; a++) {
        for (long nr = 0; nr < 480; nr++) probe("x86_64", nr, a);
        for (long nr = 0; nr < 560; nr++) probe("x32", nr, a);
        for (long nr = 0; nr < 480; nr++) probe("i386", nr, a);
        long extra[] = { 500, 1000, 4095, 0x3fffffffL };
        for (unsigned i = 0; i < sizeof extra / sizeof *extra; i++) probe("x86_64", extra[i], a);
    }
    fflush(stdout);
    return 0;
}
