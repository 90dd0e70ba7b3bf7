/* The run-time configuration: filled by main.c, read-only once workers run. */
#ifndef MTHTTPD_CONFIG_H
#define MTHTTPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostmatch.h"
#include "mime.h"

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
