/* Options, start-up, signals and shutdown. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "upload.h"

static struct config config = {
	.port = 8080,
	.host = "127.0.0.1",
	.threads = 10,
	.root = "./resources",
	.max_conns = 10000,
	.max_upload = 10u << 20,
	.keepalive_timeout = 30,
	.keepalive_max = 100,
	.header_timeout = 10,
	.body_min_rate = 500,
	.access_log = "-",
	.types = MIME_SEED,
};

const struct config *cfg = &config;

static const char usage_text[] =
	"usage: mthttpd [PORT] [HOST] [THREADS]\n"
	"       mthttpd [OPTIONS]\n"
	"\n"
	"  -p, --port N               TCP port, 0 for any free one (8080)\n"
	"  -H, --host ADDR            IPv4 or IPv6 literal to bind (127.0.0.1)\n"
	"  -t, --threads N            worker threads, 1..1024 (10)\n"
	"  -r, --root DIR             document root (./resources)\n"
	"      --uploads DIR          where uploads are stored (ROOT/uploads)\n"
	"      --allow-host NAME      one more accepted Host name; '*' accepts any\n"
	"      --max-conns N          open connections at most (10000)\n"
	"      --max-upload BYTES     largest upload body, k/M/G suffixes (10M)\n"
	"      --keepalive-timeout S  idle seconds before closing (30)\n"
	"      --keepalive-max N      requests per connection (100)\n"
	"      --header-timeout S     seconds to receive a request head (10)\n"
	"      --body-min-rate B      a request body must arrive within 20 s plus 1 s\n"
	"                             per B bytes received; 0 turns it off (500)\n"
	"      --access-log FILE      access log, '-' for stdout, 'off' (-)\n"
	"      --upload-token TOKEN   require 'Authorization: Bearer TOKEN' on uploads\n"
	"      --types seed|all       file-type policy (seed)\n"
	"      --reuse-port           SO_REUSEPORT: another instance may bind the same\n"
	"                             port (rolling restarts)\n"
	"  -q, --quiet                only warnings and errors on stderr\n"
	"  -h, --help                 this text\n"
	"  -V, --version              the version\n";

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mthttpd: %s (try --help)\n", msg);
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	exit(1);
}

/* A decimal in [lo, hi], or a usage error naming the option. */
static long parse_num(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		usage_error("invalid %s '%s': expected a number from %ld to %ld", opt, s, lo, hi);
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		usage_error("invalid %s '%s': expected a number from %ld to %ld", opt, s, lo, hi);
	return v;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		usage_error("invalid --max-upload '%s': expected bytes with an optional k, M or G", s);
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	else if (*end == 'g' || *end == 'G')
		shift = 30;
	if (shift)
		end++;
	if (errno || *end || v == 0 || v > (UINT64_MAX >> 1 >> shift))
		usage_error("invalid --max-upload '%s': expected bytes with an optional k, M or G", s);
	return (uint64_t)v << shift;
}

static bool is_ip_literal(const char *s)
{
	unsigned char tmp[16];
	return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static char **allow;
static size_t n_allow;

/* An --allow-host value: a name of letters, digits, '-', '_' and dots, an
 * IPv4 address, or an IPv6 address (bare or in brackets). A port or a
 * wildcard could never match a Host, so they are refused, not ignored. */
static bool allow_host_valid(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 253)
		return false;
	if (v[0] == '[' && v[n - 1] == ']' && n < 64) {
		char in[64];
		memcpy(in, v + 1, n - 2);
		in[n - 2] = '\0';
		return strchr(in, ':') && is_ip_literal(in);
	}
	if (strchr(v, ':'))
		return is_ip_literal(v);
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return true;
}

static void add_name(const char *name)
{
	struct config *c = &config;
	char buf[300];
	unsigned char tmp[16];
	/* IPv6 literals are written in brackets in a Host header. */
	if (inet_pton(AF_INET6, name, tmp) == 1)
		snprintf(buf, sizeof(buf), "[%s]", name);
	else
		snprintf(buf, sizeof(buf), "%s", name);
	size_t n = strlen(buf);
	if (n > 1 && buf[n - 1] == '.')
		buf[n - 1] = '\0'; /* compared without the root label's dot */
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (size_t i = 0; i < c->n_host_names; i++)
		if (strcmp(c->host_names[i], buf) == 0)
			return;
	char **v = realloc(c->host_names, (c->n_host_names + 1) * sizeof(*v));
	char *d = strdup(buf);
	if (v == NULL || d == NULL)
		fatal("out of memory");
	v[c->n_host_names++] = d;
	c->host_names = v;
}

static void add_bound_names(void)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	add_name("localhost");
	add_name("127.0.0.1");
	add_name("::1");
	add_name(config.host);
	if (inet_pton(AF_INET6, config.host, a) == 1 && inet_ntop(AF_INET6, a, txt, sizeof(txt)))
		add_name(txt);
	for (size_t i = 0; i < n_allow; i++)
		add_name(allow[i]);
	bool any = strcmp(config.host, "0.0.0.0") == 0 ||
		   (inet_pton(AF_INET6, config.host, a) == 1 && IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)a));
	if (!any)
		return;
	/* Bound to every interface: the machine's own names are ours too. */
	char host[HOST_NAME_MAX + 1];
	if (gethostname(host, sizeof(host)) == 0) {
		host[HOST_NAME_MAX] = '\0';
		add_name(host);
	}
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
			if (i->ifa_addr == NULL)
				continue;
			if (i->ifa_addr->sa_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, txt, sizeof(txt));
			else if (i->ifa_addr->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, txt, sizeof(txt));
			else
				continue;
			add_name(txt);
		}
		freeifaddrs(ifa);
	}
}

enum {
	OPT_UPLOADS = 256, OPT_ALLOW_HOST, OPT_MAX_CONNS, OPT_MAX_UPLOAD, OPT_KA_TIMEOUT,
	OPT_KA_MAX, OPT_HEADER_TIMEOUT, OPT_ACCESS_LOG, OPT_UPLOAD_TOKEN, OPT_TYPES,
	OPT_BODY_MIN_RATE, OPT_REUSE_PORT,
};

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "threads", required_argument, NULL, 't' },
		{ "root", required_argument, NULL, 'r' },
		{ "uploads", required_argument, NULL, OPT_UPLOADS },
		{ "allow-host", required_argument, NULL, OPT_ALLOW_HOST },
		{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
		{ "max-upload", required_argument, NULL, OPT_MAX_UPLOAD },
		{ "keepalive-timeout", required_argument, NULL, OPT_KA_TIMEOUT },
		{ "keepalive-max", required_argument, NULL, OPT_KA_MAX },
		{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
		{ "access-log", required_argument, NULL, OPT_ACCESS_LOG },
		{ "upload-token", required_argument, NULL, OPT_UPLOAD_TOKEN },
		{ "types", required_argument, NULL, OPT_TYPES },
		{ "body-min-rate", required_argument, NULL, OPT_BODY_MIN_RATE },
		{ "reuse-port", no_argument, NULL, OPT_REUSE_PORT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct config *c = &config;
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, ":p:H:t:r:qhV", opts, NULL)) != -1) {
		switch (o) {
		case 'p': c->port = (uint16_t)parse_num("--port", optarg, 0, 65535); break;
		case 'H': c->host = optarg; break;
		case 't': c->threads = (int)parse_num("--threads", optarg, 1, 1024); break;
		case 'r': c->root = optarg; break;
		case OPT_UPLOADS: c->uploads = optarg; break;
		case OPT_ALLOW_HOST:
			if (strcmp(optarg, "*") == 0) {
				c->host_any = true;
				break;
			}
			if (!allow_host_valid(optarg))
				usage_error("invalid --allow-host '%s' (a host name or IP address, "
					    "without port or wildcard)", optarg);
			allow = realloc(allow, (n_allow + 1) * sizeof(*allow));
			if (allow == NULL)
				fatal("out of memory");
			allow[n_allow++] = optarg;
			break;
		case OPT_MAX_CONNS: c->max_conns = parse_num("--max-conns", optarg, 1, 10000000); break;
		case OPT_MAX_UPLOAD: c->max_upload = parse_size(optarg); break;
		case OPT_KA_TIMEOUT:
			c->keepalive_timeout = (int)parse_num("--keepalive-timeout", optarg, 1, 86400);
			break;
		case OPT_KA_MAX: c->keepalive_max = (int)parse_num("--keepalive-max", optarg, 1, 1000000000); break;
		case OPT_HEADER_TIMEOUT:
			c->header_timeout = (int)parse_num("--header-timeout", optarg, 1, 86400);
			break;
		case OPT_ACCESS_LOG: c->access_log = strcmp(optarg, "off") == 0 ? NULL : optarg; break;
		case OPT_UPLOAD_TOKEN:
			if (*optarg == '\0')
				usage_error("invalid --upload-token: empty");
			c->upload_token = optarg;
			break;
		case OPT_TYPES:
			if (strcmp(optarg, "seed") == 0)
				c->types = MIME_SEED;
			else if (strcmp(optarg, "all") == 0)
				c->types = MIME_ALL;
			else
				usage_error("invalid --types '%s': expected seed or all", optarg);
			break;
		case OPT_BODY_MIN_RATE:
			c->body_min_rate = (uint32_t)parse_num("--body-min-rate", optarg, 0, 1000000000);
			break;
		case OPT_REUSE_PORT: c->reuse_port = true; break;
		case 'q': c->quiet = true; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': puts("mthttpd " MTHTTPD_VERSION); exit(0);
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* The short positional form: [PORT] [HOST] [THREADS]. */
	int pos = 0;
	for (; optind < argc; optind++, pos++) {
		const char *a = argv[optind];
		if (pos == 0)
			c->port = (uint16_t)parse_num("port", a, 0, 65535);
		else if (pos == 1)
			c->host = a;
		else if (pos == 2)
			c->threads = (int)parse_num("thread count", a, 1, 1024);
		else
			usage_error("unexpected argument '%s'", a);
	}
	if (!is_ip_literal(c->host))
		usage_error("invalid --host '%s': expected an IPv4 or IPv6 address", c->host);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void open_root(void)
{
	struct config *c = &config;
	static char root_abs[PATH_MAX];
	if (realpath(c->root, root_abs) == NULL)
		fatal("document root %s: %s", c->root, strerror(errno));
	c->root = root_abs;
	c->root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->root_fd < 0)
		fatal("document root %s: %s", c->root, strerror(errno));
	/* A root the server cannot search or list would answer every
	 * request 403: refuse to start instead. */
	if (access(c->root, R_OK | X_OK) < 0)
		fatal("document root %s: %s", c->root, strerror(errno));
	/* Every file is opened with openat2 (Linux 5.6). Without it, or with
	 * a sandbox that refuses it, every request would fail: say so now. */
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH };
	long fd = syscall(SYS_openat2, c->root_fd, ".", &how, sizeof(how));
	if (fd < 0)
		fatal("openat2 is not available (%s): mthttpd needs Linux 5.6 or later%s",
		      strerror(errno), errno == ENOSYS ? "" : " and a sandbox that allows it");
	close((int)fd);
}

/* Creates (if missing) and opens the uploads directory. Several servers
 * may share it (see upload.c on temporary files). */
static void open_uploads(void)
{
	struct config *c = &config;
	static char up_abs[PATH_MAX];
	char def[PATH_MAX + 16];
	if (c->uploads == NULL) {
		snprintf(def, sizeof(def), "%s/uploads", c->root);
		c->uploads = def;
	}
	if (mkdir(c->uploads, 0755) < 0 && errno != EEXIST)
		fatal("uploads directory %s: %s", c->uploads, strerror(errno));
	if (realpath(c->uploads, up_abs) == NULL)
		fatal("uploads directory %s: %s", c->uploads, strerror(errno));
	c->uploads = up_abs;
	c->uploads_fd = open(c->uploads, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->uploads_fd < 0)
		fatal("uploads directory %s: %s", c->uploads, strerror(errno));
	if (access(c->uploads, W_OK | X_OK) < 0)
		fatal("uploads directory %s: %s", c->uploads, strerror(errno));
}

int main(int argc, char **argv)
{
	log_set_thread("main");
	parse_args(argc, argv);
	struct config *c = &config;
	log_set_quiet(c->quiet);
	int kn = snprintf(c->keepalive_hdr, sizeof(c->keepalive_hdr),
			  "Connection: keep-alive\r\nKeep-Alive: timeout=%d, max=", c->keepalive_timeout);
	if (kn < 0 || (size_t)kn >= sizeof(c->keepalive_hdr)) /* 86400 s at most: it fits */
		fatal("keep-alive header does not fit");
	c->keepalive_hdr_n = (size_t)kn;

	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Workers inherit this mask: only the main thread takes signals. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	raise_fd_limit();
	/* Checks first, changes after: a start that fails (port in use, say)
	 * creates no directory or log file and touches no upload. */
	open_root();
	unsigned requested_port = c->port;
	int rc = server_listen();
	if (rc < 0)
		fatal("cannot listen on %s port %u: %s", c->host, c->port, strerror(-rc));
	open_uploads();
	int removed = upload_cleanup_stale();
	if (removed > 0)
		log_warn("removed %d temporary upload file(s) left by an earlier run", removed);
	if (c->access_log) {
		rc = alog_open(c->access_log);
		if (rc < 0)
			fatal("access log %s: %s", c->access_log, strerror(-rc));
	}
	add_bound_names();

	bool v6 = strchr(c->host, ':') != NULL;
	/* With --port 0 this line is the only way to learn the port: --quiet
	 * does not hide it then. */
	(requested_port == 0 ? log_notice : log_info)("mthttpd/" MTHTTPD_VERSION " listening on %s%s%s:%u",
						      v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
	log_info("threads %d, root %s, uploads %s, max-conns %ld, max-upload %llu, access log %s",
		 c->threads, c->root, c->uploads, c->max_conns, (unsigned long long)c->max_upload,
		 c->access_log ? c->access_log : "off");

	rc = server_start();
	if (rc < 0)
		fatal("cannot start workers: %s", strerror(-rc));

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			rc = alog_reopen();
			if (rc < 0)
				log_error("reopening access log %s: %s", c->access_log, strerror(-rc));
			else
				log_info("SIGHUP: access log reopened");
			continue;
		}
		/* Refuse new clients before saying so: whoever reads
		 * "stopping" may rely on it. */
		server_stop_listening();
		log_info("%s: stopping; finishing in-flight requests (at most 10 s)",
			 sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	server_stop();
	log_info("stopped");
	return 0;
}
