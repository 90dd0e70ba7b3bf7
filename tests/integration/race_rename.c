/* The rename race of issue 11 item 8, timed in C (a Python loop's jitter
 * is wider than the window): per trial a fresh directory, a GET of its
 * file on one kept-alive connection, a rename over the file 0-80 us after
 * the request was sent, then at once a GET that must return the new bytes
 * (before any other change: an event on another file must not be what
 * hides a stale entry), and 20 ms later another. Odd trials GET the file once first, so that the racing GET is the
 * second (the one a second-miss cache admits).
 *
 * race_rename PORT ROOT TRIALS SECONDS: prints "trials N stale S" (S
 * counts both checks) and
 * exits 0; stops early after SECONDS. Exit 2 on a setup or I/O error. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 20

static int sock;
static char root[4096];
static char buf[65536];
static size_t have;

static void die(const char *what)
{
	fprintf(stderr, "race_rename: %s: %s\n", what, strerror(errno));
	exit(2);
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data) || close(fd) < 0)
		die(path);
}

static void send_get(int k)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "GET /d%d/f.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", k);
	if (send(sock, req, (size_t)n, MSG_NOSIGNAL) != n)
		die("send");
}

/* Reads one response; copies its body (NUL-terminated) into body. */
static void read_response(char *body, size_t cap)
{
	char *end;
	while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
		ssize_t r = recv(sock, buf + have, sizeof(buf) - have, 0);
		if (r <= 0)
			die("recv");
		have += (size_t)r;
	}
	size_t head = (size_t)(end - buf) + 4;
	char *cl = memmem(buf, head, "Content-Length: ", 16);
	size_t len = cl ? strtoul(cl + 16, NULL, 10) : 0;
	while (have < head + len) {
		ssize_t r = recv(sock, buf + have, sizeof(buf) - have, 0);
		if (r <= 0)
			die("recv");
		have += (size_t)r;
	}
	size_t n = len < cap - 1 ? len : cap - 1;
	memcpy(body, buf + head, n);
	body[n] = '\0';
	memmove(buf, buf + head + len, have - head - len);
	have -= head + len;
}

int main(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	int port = atoi(argv[1]);
	snprintf(root, sizeof(root), "%s", argv[2]);
	int trials = atoi(argv[3]);
	long long deadline = now_ns() + atoll(argv[4]) * 1000000000LL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	srand(11);
	char path[4200], tmp[4200], body[256], want[64];
	int done = 0, stale = 0;
	while (done < trials && now_ns() < deadline) {
		int last = done + BATCH < trials ? done + BATCH : trials;
		for (int k = done; k < last; k++) {
			snprintf(path, sizeof(path), "%s/d%d", root, k);
			if (mkdir(path, 0755) < 0)
				die(path);
			snprintf(path, sizeof(path), "%s/d%d/f.html", root, k);
			snprintf(tmp, sizeof(tmp), "%s/d%d/f.tmp", root, k);
			snprintf(want, sizeof(want), "old %d\n", k);
			put(path, want);
			snprintf(want, sizeof(want), "new %d, replaced\n", k);
			put(tmp, want);
			if (k % 2) {
				send_get(k);
				read_response(body, sizeof(body));
			}
			long long delay = rand() % 81 * 1000LL;
			send_get(k);
			long long t = now_ns() + delay;
			while (now_ns() < t)
				;
			if (rename(tmp, path) < 0)
				die("rename");
			read_response(body, sizeof(body));
			send_get(k);
			read_response(body, sizeof(body));
			if (strcmp(body, want) != 0)
				stale++;
		}
		struct timespec pause = { 0, 20 * 1000000 };
		nanosleep(&pause, NULL);
		for (int k = done; k < last; k++) {
			send_get(k);
			read_response(body, sizeof(body));
			snprintf(want, sizeof(want), "new %d, replaced\n", k);
			if (strcmp(body, want) != 0)
				stale++;
		}
		done = last;
	}
	printf("trials %d stale %d\n", done, stale);
	return 0;
}
