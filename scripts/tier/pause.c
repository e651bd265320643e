/* The pod sandbox ("pause") program of the e2e tier's images, our own.
 *
 * A pod's infra container: it holds the pod's namespaces open and does nothing else.
 * SIGINT and SIGTERM end it with status 0, it reaps any child re-parented to it (it is
 * PID 1 when the pod shares its PID namespace) and otherwise sleeps in pause().
 * Built `gcc -static -Os` by scripts/tier/images.sh into a FROM-scratch image.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int signo)
{
	(void)signo;
	_exit(0);
}

static void on_child(int signo)
{
	int saved = errno;
	(void)signo;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static int handle(int signo, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = signo == SIGCHLD ? SA_NOCLDSTOP | SA_RESTART : 0;
	return sigaction(signo, &sa, NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
		puts("pause (kmeshctl e2e tier)");
		return 0;
	}
	if (getpid() != 1)
		fputs("pause: warning: not running as PID 1\n", stderr);
	if (handle(SIGINT, on_stop) < 0 || handle(SIGTERM, on_stop) < 0 ||
	    handle(SIGCHLD, on_child) < 0) {
		perror("pause: sigaction");
		return 1;
	}
	for (;;)
		pause();
	return 42; /* not reached */
}
