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

#include "compress.h"
#include "config.h"
#include "docroot.h"
#include "cors.h"
#include "log.h"
#include "hostmatch.h"
#include "privdrop.h"
#include "sdnotify.h"
#include "server.h"
#include "tls.h"
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
	.compress = true,
	.compress_level_gzip = 6,
	.compress_level_br = 5,
	.compress_cache = 64u << 20,
	.compress_max = 8u << 20,
	.tls_port = 8443,
};

const struct config *cfg = &config;

static struct privdrop user;  /* --user */

static const char usage_text[] =
	"usage: mthttpd [PORT] [HOST] [THREADS]\n"
	"       mthttpd [OPTIONS]\n"
	"\n"
	"  -p, --port N               TCP port, 0 for any free one (8080)\n"
	"  -H, --host ADDR            IPv4 or IPv6 literal to bind (127.0.0.1)\n"
	"  -t, --threads N            worker threads, 1..1024 (10)\n"
	"  -r, --root DIR             document root (./resources)\n"
	"      --uploads DIR          where uploads are stored (ROOT/uploads)\n"
	"      --allow-host NAME      one more accepted Host: a name, name:port (the\n"
	"                             port is ignored), an IP address, .example.com\n"
	"                             (it and every subdomain), or '*' for any\n"
	"      --max-conns N          open connections at most (10000)\n"
	"      --max-upload BYTES     largest upload body, k/M/G suffixes (10M)\n"
	"      --keepalive-timeout S  idle seconds before closing (30)\n"
	"      --keepalive-max N      requests per connection (100)\n"
	"      --header-timeout S     seconds to receive a request head (10)\n"
	"      --body-min-rate B      a request body must arrive within 20 s plus 1 s\n"
	"                             per B bytes received; 0 turns it off (500)\n"
	"      --access-log FILE      access log, '-' for stdout, 'off' (-)\n"
	"      --log-format FORMAT    access log format: combined or json (combined)\n"
	"      --upload-token TOKEN   require 'Authorization: Bearer TOKEN' on uploads\n"
	"      --types seed|all       file-type policy (seed)\n"
	"      --upload-index         GET /uploads/ lists the stored uploads (JSON)\n"
	"      --cors-origin ORIGIN   scheme://host[:port] or '*' that may upload and\n"
	"                             read from a browser (repeatable)\n"
	"      --upload-rate N        uploads per client address a minute (no limit)\n"
	"      --upload-quota BYTES   total size of the uploads directory, k/M/G\n"
	"                             suffixes (no limit)\n"
	"      --compress on|off      gzip/br text files on the fly, once (on)\n"
	"      --compress-level-gzip N  gzip level, 1..9 (6)\n"
	"      --compress-level-br N  brotli quality, 0..11 (5)\n"
	"      --compress-cache BYTES compressed bodies kept in memory (64M)\n"
	"      --compress-max BYTES   larger files are sent uncompressed (8M)\n"
	"      --reuse-port           SO_REUSEPORT: another instance may bind the same\n"
	"                             port (rolling restarts)\n"
	"      --proxy-protocol       every connection starts with a PROXY header (v1\n"
	"                             or v2), which names the client\n"
	"      --metrics PATH         serve Prometheus metrics on PATH (off)\n"
	"      --metrics-allow ADDR[/PREFIX]\n"
	"                             clients that may read them (repeatable;\n"
	"                             default 127.0.0.0/8 and ::1)\n"
	"      --trusted-proxy ADDR[/PREFIX]\n"
	"                             a proxy whose X-Forwarded-For / Forwarded name\n"
	"                             the client (repeatable)\n"
	"      --user NAME[:GROUP]    run as this user once the port, root, uploads\n"
	"                             directory and logs are open (needs root)\n"
	"      --tls-cert FILE        PEM certificate (chain after the leaf) for HTTPS;\n"
	"                             repeatable, each with a --tls-key; the first\n"
	"                             pair is the default, others are chosen by SNI\n"
	"      --tls-key FILE         PEM private key of the preceding --tls-cert\n"
	"      --tls-port N           HTTPS port on the same --host (8443)\n"
	"      --redirect-https       the plain port answers 308 to the https:// URL\n"
	"      --hsts SECONDS         Strict-Transport-Security max-age on HTTPS\n"
	"  -q, --quiet                only warnings and errors on stderr\n"
	"  -h, --help                 this text\n"
	"  -V, --version              the version\n";

/* What start-up created, so a start that fails can take it back. */
static bool uploads_created;

/* Undoes the start-up's changes (fatal's exit path). */
static void undo_startup(void)
{
	alog_abandon();
	if (uploads_created && config.uploads != NULL)
		rmdir(config.uploads); /* only if still empty */
	uploads_created = false;
}

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
	undo_startup();
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

static uint64_t parse_size(const char *opt, const char *s)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		usage_error("invalid %s '%s': expected bytes with an optional k, M or G", opt, s);
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
		usage_error("invalid %s '%s': expected bytes with an optional k, M or G", opt, s);
	return (uint64_t)v << shift;
}

static bool is_ip_literal(const char *s)
{
	unsigned char tmp[16];
	return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static char **allow;
static size_t n_allow;

/* --cors-origin: checked now, kept in the configuration. */
static void add_cors_origin(const char *s)
{
	static const char **v;
	const char *why;
	if (cors_parse_origin(s, strlen(s), &why) < 0)
		usage_error("invalid --cors-origin '%s': %s", s, why);
	const char **nv = realloc(v, (config.n_cors + 1) * sizeof(*nv));
	if (nv == NULL)
		fatal("out of memory");
	v = nv;
	v[config.n_cors++] = s;
	config.cors_origins = v;
	config.cors_vary = cors_varies(v, config.n_cors);
}

/* Adds a name (or address) the Host header may carry. A machine name that
 * is no valid host (an interface address with a scope, say) is skipped:
 * no Host could name it. */
static void add_name(const char *name)
{
	struct config *c = &config;
	struct hm_entry e;
	const char *why;
	if (hm_parse_spec(name, strlen(name), &e, &why) < 0)
		return;
	for (size_t i = 0; i < c->n_hosts; i++)
		if (hm_same(&c->hosts[i], &e))
			return;
	struct hm_entry *v = realloc(c->hosts, (c->n_hosts + 1) * sizeof(*v));
	if (v == NULL)
		fatal("out of memory");
	v[c->n_hosts++] = e;
	c->hosts = v;
}

static void add_bound_names(void)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	add_name("localhost");
	add_name("127.0.0.1");
	add_name("::1");
	add_name(config.host);
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

/* A --metrics path: absolute, plain (letters, digits, - _ . /), no dot
 * segment, and not a path uploads use. */
static bool metrics_path_valid(const char *p)
{
	if (p[0] != '/' || strlen(p) > 200 || strstr(p, "/.") || strstr(p, "//"))
		return false;
	for (const char *q = p; *q; q++)
		if (!isalnum((unsigned char)*q) && !strchr("-_./", *q))
			return false;
	return strcmp(p, "/upload") != 0 && strcmp(p, "/uploads") != 0 &&
	       strncmp(p, "/uploads/", 9) != 0 && strcmp(p, "/") != 0;
}

/* Appends an ADDR[/PREFIX] to a list, or exits 2. */
static void add_net(struct na_net **list, size_t *n, const char *opt, const char *v)
{
	struct na_net *a = realloc(*list, (*n + 1) * sizeof(**list));
	if (a == NULL)
		fatal("out of memory");
	*list = a;
	if (na_parse(v, strlen(v), &a[*n]) < 0)
		usage_error("invalid %s '%s': expected ADDR or ADDR/PREFIX", opt, v);
	(*n)++;
}

enum {
	OPT_UPLOADS = 256, OPT_ALLOW_HOST, OPT_MAX_CONNS, OPT_MAX_UPLOAD, OPT_KA_TIMEOUT,
	OPT_KA_MAX, OPT_HEADER_TIMEOUT, OPT_ACCESS_LOG, OPT_UPLOAD_TOKEN, OPT_TYPES,
	OPT_BODY_MIN_RATE, OPT_REUSE_PORT, OPT_LOG_FORMAT, OPT_USER,
	OPT_PROXY_PROTOCOL, OPT_TRUSTED_PROXY, OPT_METRICS, OPT_METRICS_ALLOW,
	OPT_UPLOAD_INDEX, OPT_CORS_ORIGIN, OPT_UPLOAD_RATE, OPT_UPLOAD_QUOTA,
	OPT_COMPRESS, OPT_COMPRESS_GZIP, OPT_COMPRESS_BR, OPT_COMPRESS_CACHE, OPT_COMPRESS_MAX,
	OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_PORT, OPT_REDIRECT_HTTPS, OPT_HSTS,
};

/* The --compress* options. */
static void parse_compress(struct config *c, int o, const char *arg)
{
	switch (o) {
	case OPT_COMPRESS:
		if (strcmp(arg, "on") == 0)
			c->compress = true;
		else if (strcmp(arg, "off") == 0)
			c->compress = false;
		else
			usage_error("invalid --compress '%s': expected on or off", arg);
		break;
	case OPT_COMPRESS_GZIP:
		c->compress_level_gzip = (int)parse_num("--compress-level-gzip", arg, 1, 9);
		break;
	case OPT_COMPRESS_BR: c->compress_level_br = (int)parse_num("--compress-level-br", arg, 0, 11); break;
	case OPT_COMPRESS_CACHE: c->compress_cache = parse_size("--compress-cache", arg); break;
	case OPT_COMPRESS_MAX: c->compress_max = parse_size("--compress-max", arg); break;
	}
}

/* The long options; getopt_long order does not matter. */
static const struct option long_opts[] = {
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
	{ "proxy-protocol", no_argument, NULL, OPT_PROXY_PROTOCOL },
	{ "trusted-proxy", required_argument, NULL, OPT_TRUSTED_PROXY },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "metrics-allow", required_argument, NULL, OPT_METRICS_ALLOW },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "user", required_argument, NULL, OPT_USER },
	{ "upload-index", no_argument, NULL, OPT_UPLOAD_INDEX },
	{ "cors-origin", required_argument, NULL, OPT_CORS_ORIGIN },
	{ "upload-rate", required_argument, NULL, OPT_UPLOAD_RATE },
	{ "upload-quota", required_argument, NULL, OPT_UPLOAD_QUOTA },
	{ "compress", required_argument, NULL, OPT_COMPRESS },
	{ "compress-level-gzip", required_argument, NULL, OPT_COMPRESS_GZIP },
	{ "compress-level-br", required_argument, NULL, OPT_COMPRESS_BR },
	{ "compress-cache", required_argument, NULL, OPT_COMPRESS_CACHE },
	{ "compress-max", required_argument, NULL, OPT_COMPRESS_MAX },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-port", required_argument, NULL, OPT_TLS_PORT },
	{ "redirect-https", no_argument, NULL, OPT_REDIRECT_HTTPS },
	{ "hsts", required_argument, NULL, OPT_HSTS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* --tls-cert/--tls-key: pairs, in order, each key right after its cert. */
static void add_tls(bool cert, const char *path)
{
	struct config *c = &config;
	bool open_pair = c->n_tls && c->tls_keys[c->n_tls - 1] == NULL;
	if (cert ? open_pair : !open_pair)
		usage_error("%s '%s': each --tls-cert needs one --tls-key after it",
			    cert ? "--tls-cert" : "--tls-key", path);
	if (!cert) {
		c->tls_keys[c->n_tls - 1] = path;
		return;
	}
	const char **certs = realloc(c->tls_certs, (c->n_tls + 1) * sizeof(*certs));
	if (certs)
		c->tls_certs = certs;
	const char **keys = certs ? realloc(c->tls_keys, (c->n_tls + 1) * sizeof(*keys)) : NULL;
	if (keys == NULL)
		fatal("out of memory");
	c->tls_keys = keys;
	c->tls_certs[c->n_tls] = path;
	c->tls_keys[c->n_tls++] = NULL;
}

static void parse_args(int argc, char **argv)
{
	struct config *c = &config;
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, ":p:H:t:r:qhV", long_opts, NULL)) != -1) {
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
			struct hm_entry e;
			const char *why;
			if (hm_parse_spec(optarg, strlen(optarg), &e, &why) < 0)
				usage_error("invalid --allow-host '%s': %s", optarg, why);
			allow = realloc(allow, (n_allow + 1) * sizeof(*allow));
			if (allow == NULL)
				fatal("out of memory");
			allow[n_allow++] = optarg;
			break;
		case OPT_MAX_CONNS: c->max_conns = parse_num("--max-conns", optarg, 1, 10000000); break;
		case OPT_MAX_UPLOAD: c->max_upload = parse_size("--max-upload", optarg); break;
		case OPT_UPLOAD_INDEX: c->upload_index = true; break;
		case OPT_CORS_ORIGIN: add_cors_origin(optarg); break;
		case OPT_UPLOAD_RATE: c->upload_rate = (unsigned)parse_num("--upload-rate", optarg, 1, 1000000); break;
		case OPT_UPLOAD_QUOTA: c->upload_quota = parse_size("--upload-quota", optarg); break;
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
		case OPT_PROXY_PROTOCOL: c->proxy_protocol = true; break;
		case OPT_METRICS:
			if (!metrics_path_valid(optarg))
				usage_error("invalid --metrics '%s': an absolute path such as /metrics, "
					    "not /upload or under /uploads/", optarg);
			c->metrics_path = optarg;
			break;
		case OPT_METRICS_ALLOW:
			add_net(&c->metrics_allow, &c->n_metrics_allow, "--metrics-allow", optarg);
			break;
		case OPT_TRUSTED_PROXY:
			add_net(&c->trusted, &c->n_trusted, "--trusted-proxy", optarg);
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "combined") == 0)
				alog_set_format(ALOG_COMBINED);
			else if (strcmp(optarg, "json") == 0)
				alog_set_format(ALOG_JSON);
			else
				usage_error("invalid --log-format '%s': expected combined or json", optarg);
			break;
		case OPT_USER: {
			char err[256];
			free(user.groups);
			if (privdrop_lookup(&user, optarg, err, sizeof(err)) < 0)
				usage_error("%s", err);
			break;
		}
		case OPT_COMPRESS:
		case OPT_COMPRESS_GZIP:
		case OPT_COMPRESS_BR:
		case OPT_COMPRESS_CACHE:
		case OPT_COMPRESS_MAX: parse_compress(c, o, optarg); break;
		case OPT_TLS_CERT: add_tls(true, optarg); break;
		case OPT_TLS_KEY: add_tls(false, optarg); break;
		case OPT_TLS_PORT: c->tls_port = (uint16_t)parse_num("--tls-port", optarg, 0, 65535); break;
		case OPT_REDIRECT_HTTPS: c->redirect_https = true; break;
		case OPT_HSTS: c->hsts = parse_num("--hsts", optarg, 0, 1000000000); break;
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
	if (c->n_tls && c->tls_keys[c->n_tls - 1] == NULL)
		usage_error("--tls-cert '%s' has no --tls-key", c->tls_certs[c->n_tls - 1]);
	if ((c->redirect_https || c->hsts) && c->n_tls == 0)
		usage_error("%s needs --tls-cert and --tls-key", c->redirect_https ? "--redirect-https" : "--hsts");
	if (!is_ip_literal(c->host))
		usage_error("invalid --host '%s': expected an IPv4 or IPv6 address", c->host);
	if (c->metrics_path && c->n_metrics_allow == 0) {
		add_net(&c->metrics_allow, &c->n_metrics_allow, "--metrics-allow", "127.0.0.0/8");
		add_net(&c->metrics_allow, &c->n_metrics_allow, "--metrics-allow", "::1");
	}
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The root as given (it may be a symbolic link that a deploy switches):
 * SIGHUP resolves it again. */
static const char *root_given;

static void open_root(void)
{
	struct config *c = &config;
	static char root_abs[PATH_MAX];
	root_given = c->root;
	if (realpath(c->root, root_abs) == NULL)
		fatal("document root %s: %s", c->root, strerror(errno));
	c->root = root_abs;
	c->root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->root_fd < 0)
		fatal("document root %s: %s", c->root, strerror(errno));
	/* A root the server cannot search or list would answer every
	 * request 403: refuse to start instead. Checked as --user, who will
	 * open the files. */
	int rc = privdrop_access(&user, c->root_fd, ".", R_OK | X_OK);
	if (rc < 0)
		fatal("document root %s: %s%s%s", c->root, strerror(-rc), user.set ? " for user " : "",
		      user.set ? user.name : "");
	/* Every file is opened with openat2 (Linux 5.6). Without it, or with
	 * a sandbox that refuses it, every request would fail: say so now. */
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH };
	long fd = syscall(SYS_openat2, c->root_fd, ".", &how, sizeof(how));
	if (fd < 0)
		fatal("openat2 is not available (%s): mthttpd needs Linux 5.6 or later%s",
		      strerror(errno), errno == ENOSYS ? "" : " and a sandbox that allows it");
	close((int)fd);
}

static char uploads_abs[PATH_MAX];
static bool uploads_missing; /* to be created once every check has passed */

/* Checks the uploads directory without changing anything. An existing one
 * is opened and checked writable (as --user); for a missing one,
 * its parent must exist and be writable: create_uploads makes it later. */
static void check_uploads(void)
{
	struct config *c = &config;
	static char def[PATH_MAX + 16];
	if (c->uploads == NULL) {
		snprintf(def, sizeof(def), "%s/uploads", c->root);
		c->uploads = def;
	}
	struct stat st;
	if (stat(c->uploads, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			fatal("uploads directory %s: %s", c->uploads, strerror(ENOTDIR));
		if (realpath(c->uploads, uploads_abs) == NULL)
			fatal("uploads directory %s: %s", c->uploads, strerror(errno));
		c->uploads = uploads_abs;
		c->uploads_fd = open(c->uploads, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c->uploads_fd < 0)
			fatal("uploads directory %s: %s", c->uploads, strerror(errno));
		int rc = privdrop_access(&user, c->uploads_fd, ".", W_OK | X_OK);
		if (rc < 0)
			fatal("uploads directory %s: %s%s%s", c->uploads, strerror(-rc),
			      user.set ? " for user " : "", user.set ? user.name : "");
		return;
	}
	if (errno != ENOENT)
		fatal("uploads directory %s: %s", c->uploads, strerror(errno));
	/* Missing: split off the last name; the parent must be there. */
	char path[PATH_MAX], parent_abs[PATH_MAX];
	snprintf(path, sizeof(path), "%s", c->uploads);
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *parent = slash == NULL ? "." : slash == path ? "/" : path;
	if (slash && slash != path)
		*slash = '\0';
	if (realpath(parent, parent_abs) == NULL)
		fatal("uploads directory %s: %s", c->uploads, strerror(errno));
	if (stat(parent_abs, &st) < 0 || !S_ISDIR(st.st_mode))
		fatal("uploads directory %s: %s", c->uploads, strerror(ENOTDIR));
	if (access(parent_abs, W_OK | X_OK) < 0)
		fatal("uploads directory %s: cannot create it: %s", c->uploads, strerror(errno));
	if ((size_t)snprintf(uploads_abs, sizeof(uploads_abs), "%s%s%s", parent_abs,
			     strcmp(parent_abs, "/") == 0 ? "" : "/", base) >= sizeof(uploads_abs))
		fatal("uploads directory %s: %s", c->uploads, strerror(ENAMETOOLONG));
	uploads_missing = true;
}

/* Creates the uploads directory check_uploads found missing (owned by
 * --user, who will write there) and opens it. Several servers may share
 * it (see upload.c on temporary files). */
static void create_uploads(void)
{
	struct config *c = &config;
	if (!uploads_missing)
		return;
	if (mkdir(uploads_abs, 0755) < 0)
		fatal("uploads directory %s: %s", c->uploads, strerror(errno));
	c->uploads = uploads_abs;
	uploads_created = true;
	if (user.set && chown(c->uploads, user.uid, user.gid) < 0)
		fatal("uploads directory %s: chown to %s: %s", c->uploads, user.name, strerror(errno));
	c->uploads_fd = open(c->uploads, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->uploads_fd < 0)
		fatal("uploads directory %s: %s", c->uploads, strerror(errno));
}

/* One readiness message with the address in STATUS=. */
static void notify_ready(const char *what)
{
	const struct config *c = &config;
	bool v6 = strchr(c->host, ':') != NULL;
	char msg[256];
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s on %s%s%s:%u", what, v6 ? "[" : "", c->host,
		 v6 ? "]" : "", c->port);
	int rc = sdnotify_send(msg);
	if (rc < 0)
		log_warn("NOTIFY_SOCKET: %s", strerror(-rc));
}

/* SIGHUP: reopen the access log, saying what was reopened. */
static void reload(void)
{
	int rc = sdnotify_reloading();
	if (rc < 0)
		log_warn("NOTIFY_SOCKET: %s", strerror(-rc));
	rc = docroot_set(root_given);
	if (rc > 0)
		log_info("SIGHUP: document root %s now resolves to a new directory", root_given);
	else if (rc < 0)
		log_error("SIGHUP: document root %s: %s; still serving the one before", root_given,
			  strerror(-rc));
	rc = alog_reopen();
	if (rc > 0)
		log_info("SIGHUP: reopened access log %s", alog_describe());
	else if (rc == 0)
		log_info("SIGHUP: nothing to reopen (access log %s%s)",
			 strcmp(alog_describe(), "off") == 0 ? "" : "is ", alog_describe());
	else
		log_error("SIGHUP: cannot reopen access log %s: %s; still writing to the file opened before",
			  alog_describe(), strerror(-rc));
	tls_reload();
	notify_ready("reloaded; listening");
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
	int rc = sdnotify_init();
	if (rc < 0)
		log_warn("NOTIFY_SOCKET %s: %s; not notifying systemd", getenv("NOTIFY_SOCKET"),
			 strerror(-rc));

	/* 1. Checks: nothing is created, removed or opened for writing until
	 * every one has passed, so a start that fails changes nothing. The
	 * port comes first: in use, it is the likeliest failure, and it must
	 * be reported as such even when the uploads directory is the running
	 * server's. Socket activation (issue 12) takes the LISTEN_FDS sockets
	 * here instead of binding. */
	open_root();
	rc = docroot_set(root_given);
	if (rc < 0)
		fatal("document root %s: %s", root_given, strerror(-rc));
	unsigned requested_port = c->port;
	rc = server_listen();
	if (rc < 0)
		fatal("cannot listen on %s port %u: %s", c->host, c->port, strerror(-rc));
	check_uploads();
	char tls_err[512];
	if (tls_setup(tls_err, sizeof(tls_err)) < 0)
		fatal("%s", tls_err);
	if (c->access_log) {
		rc = alog_check(c->access_log);
		if (rc < 0)
			fatal("access log %s: %s", c->access_log, strerror(-rc));
	}

	/* 2. Changes, in an order fatal() can undo: the access log (removed
	 * again if created), then the uploads directory (removed while empty). */
	if (c->access_log) {
		rc = alog_open(c->access_log);
		if (rc < 0)
			fatal("access log %s: %s", c->access_log, strerror(-rc));
	}
	create_uploads();

	/* 3. Everything that needs root is open: become --user. */
	if (user.set) {
		char err[256];
		if (privdrop_apply(&user, err, sizeof(err)) < 0)
			fatal("%s", err);
	}
	int removed = upload_cleanup_stale();
	if (removed > 0)
		log_warn("removed %d temporary upload file(s) left by an earlier run", removed);
	upload_limits_init();
	add_bound_names();

	bool v6 = strchr(c->host, ':') != NULL;
	/* With --port 0 this line is the only way to learn the port: --quiet
	 * does not hide it then. */
	(requested_port == 0 ? log_notice : log_info)("mthttpd/" MTHTTPD_VERSION " listening on %s%s%s:%u",
						      v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
	if (c->n_tls)
		(requested_port == 0 || c->tls_port != 8443 ? log_notice : log_info)(
			"HTTPS listening on %s%s%s:%u%s", v6 ? "[" : "", c->host, v6 ? "]" : "", c->tls_port,
			c->redirect_https ? "; the plain port redirects to it" : "");
	log_info("threads %d, root %s, uploads %s, max-conns %ld, max-upload %llu, access log %s%s%s",
		 c->threads, c->root, c->uploads, c->max_conns, (unsigned long long)c->max_upload,
		 alog_describe(), user.set ? ", running as user " : "", user.set ? user.name : "");

	if (c->compress) {
		rc = cz_init((size_t)c->compress_cache);
		if (rc < 0)
			log_warn("compression thread: %s; large files are sent uncompressed",
				 strerror(-rc));
	}
	rc = server_start();
	if (rc < 0)
		fatal("cannot start workers: %s", strerror(-rc));
	uploads_created = false; /* started: no longer undone */
	notify_ready("listening");

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			reload();
			continue;
		}
		rc = sdnotify_send("STOPPING=1\nSTATUS=stopping");
		if (rc < 0)
			log_warn("NOTIFY_SOCKET: %s", strerror(-rc));
		/* Refuse new clients before saying so: whoever reads
		 * "stopping" may rely on it. */
		server_stop_listening();
		log_info("%s: stopping; finishing in-flight requests (at most 10 s)",
			 sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	server_stop();
	cz_destroy();
	log_info("stopped");
	return 0;
}
