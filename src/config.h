/* The run-time configuration: filled by main.c, read-only once workers run. */
#ifndef MTHTTPD_CONFIG_H
#define MTHTTPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostmatch.h"
#include "mime.h"
#include "netaddr.h"

#define MTHTTPD_VERSION "0.1.0"

struct config {
	uint16_t port;          /* the bound port (the real one after bind) */
	const char *host;       /* address literal as given */
	int threads;
	const char *root;
	const char *uploads;
	long max_conns;
	uint64_t max_upload;
	int keepalive_timeout;  /* seconds */
	int keepalive_max;
	int header_timeout;     /* seconds */
	uint32_t body_min_rate; /* bytes/s a body must average after BODY_GRACE_S; 0: off */
	const char *access_log; /* NULL when off */
	const char *upload_token;
	enum mime_policy types;
	bool quiet;
	bool reuse_port;        /* SO_REUSEPORT on the listener */
	bool proxy_protocol;    /* every connection starts with a PROXY header */
	struct na_net *trusted; /* --trusted-proxy: peers whose X-Forwarded-For /
				 * Forwarded name the client */
	size_t n_trusted;
	const char *metrics_path;    /* --metrics PATH, NULL when off */
	struct na_net *metrics_allow; /* --metrics-allow (default loopback) */
	size_t n_metrics_allow;
	bool upload_index;      /* GET /uploads/ lists the stored uploads */
	const char *const *cors_origins; /* --cors-origin values (cors.h) */
	size_t n_cors;
	bool cors_vary;         /* some listed origin is not "*": Vary: Origin */
	unsigned upload_rate;   /* uploads per client address a minute; 0: no limit */
	uint64_t upload_quota;  /* bytes the uploads directory may hold; 0: no limit */
	bool compress;          /* gzip/br on the fly (sf_compress.h) */
	int compress_level_gzip;
	int compress_level_br;
	uint64_t compress_cache; /* bytes of compressed bodies kept */
	uint64_t compress_max;  /* larger files are sent as they are */

	/* HTTPS (tls.c): --tls-cert/--tls-key pairs, the first the default. */
	const char **tls_certs, **tls_keys;
	size_t n_tls;
	uint16_t tls_port;      /* the bound HTTPS port (the real one after bind) */
	bool redirect_https;    /* the plain port answers 308 to https:// */
	long hsts;              /* Strict-Transport-Security max-age; 0: none */

	/* Derived at start-up. */
	int root_fd;            /* O_PATH descriptor of the root */
	int uploads_fd;         /* O_PATH|O_DIRECTORY descriptor of the uploads dir */
	bool host_any;          /* --allow-host '*' */
	struct hm_entry *hosts; /* what the Host header may name (hostmatch.h) */
	size_t n_hosts;
	char keepalive_hdr[80]; /* "Connection: keep-alive\r\nKeep-Alive: timeout=N, max=" */
	size_t keepalive_hdr_n;
};

/* The one configuration; set before any worker starts, never changed after. */
extern const struct config *cfg;

#endif
