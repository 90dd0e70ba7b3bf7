/* HTTPS through OpenSSL 3 (see tls.h).
 *
 * Policy: TLS 1.2 and 1.3 only; for 1.2 the Mozilla "intermediate" suites
 * (ECDHE with AES-GCM or ChaCha20-Poly1305); groups X25519 and P-256; ALPN
 * http/1.1; no compression, no renegotiation. Resumption: stateless
 * tickets whose keys rotate every TICKET_ROTATE_S (the previous key still
 * decrypts, and renews, for one more period) plus a server session cache
 * for clients that resume by session id. */
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "ev.h"
#include "log.h"

#define TLS_RECORD 16384
#define TLS_FILE_READ (16 * TLS_RECORD) /* file bytes per pread, at most */
#define TICKET_ROTATE_S 3600    /* a new ticket key every hour */
#define SESSION_TIMEOUT_S 3600  /* a session (ticket or cache) lives an hour */
#define SESSION_CACHE_SIZE 20480

static const char ciphers12[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char suites13[] =
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

char tls_hsts_header[64];

/* The contexts of one generation of certificates: ctx[0] is the default
 * (the one SSL objects are made from); it owns this set through ex_data,
 * so the set lives as long as any connection made from it. */
struct tls_set {
	size_t n;
	SSL_CTX **ctx;
	X509 **cert;  /* borrowed from ctx[i], for SNI matching */
};

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *cur;            /* the default context of the current set */
static int set_idx = -1;        /* ex_data index of the set on ctx[0] */
static bool ktls_ok;            /* the kernel has the tls ULP */

static int bios_init(void);

static atomic_ulong hs_failures;
static atomic_long hs_logged_s;

/* ---- session ticket keys ---- */

struct tkey {
	unsigned char name[16], aes[32], hmac[32];
};

static pthread_mutex_t tkey_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tkey tkeys[2];    /* [0] current, [1] previous */
static time_t tkey_born;

static int tkey_fill(struct tkey *k)
{
	return RAND_bytes(k->name, sizeof(k->name)) == 1 && RAND_bytes(k->aes, sizeof(k->aes)) == 1 &&
			       RAND_bytes(k->hmac, sizeof(k->hmac)) == 1
		       ? 0
		       : -1;
}

/* Copies the key to use (enc) or the one named name; rotates first when
 * the current one is old. Returns 1 (current), 2 (previous: renew the
 * ticket) or 0 (unknown name). */
static int tkey_get(int enc, const unsigned char *name, struct tkey *out)
{
	int rc = 0;
	pthread_mutex_lock(&tkey_lock);
	time_t now = time(NULL);
	if (tkey_born == 0 || now - tkey_born >= TICKET_ROTATE_S) {
		struct tkey k;
		if (tkey_fill(&k) == 0) {
			tkeys[1] = tkey_born ? tkeys[0] : k;
			tkeys[0] = k;
			tkey_born = now;
		}
	}
	if (enc) {
		*out = tkeys[0];
		rc = 1;
	} else {
		for (int i = 0; i < 2; i++) {
			if (memcmp(name, tkeys[i].name, sizeof(tkeys[i].name)) == 0) {
				*out = tkeys[i];
				rc = i + 1;
				break;
			}
		}
	}
	pthread_mutex_unlock(&tkey_lock);
	return rc;
}

/* Returns -1 (error), 0 (unknown key), 1 (use it) or 2 (use it, and send
 * a new ticket). A TLS 1.3 resumption always gets a new ticket: clients
 * use each ticket once (RFC 8446 C.4), so without one the connection
 * after a resumed one would be a full handshake again. */
static int ticket_cb(SSL *s, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
		     EVP_MAC_CTX *hctx, int enc)
{
	struct tkey k;
	int rc = tkey_get(enc, key_name, &k);
	if (rc == 0)
		return 0; /* unknown key: a full handshake, a new ticket */
	if (!enc && SSL_version(s) == TLS1_3_VERSION)
		rc = 2;
	OSSL_PARAM params[3] = {
		OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac)),
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (enc) {
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			rc = -1;
		memcpy(key_name, k.name, sizeof(k.name));
		if (rc > 0 && EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
			rc = -1;
	} else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1) {
		rc = -1;
	}
	if (rc > 0 && EVP_MAC_CTX_set_params(hctx, params) != 1)
		rc = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

/* ---- contexts ---- */

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
		   unsigned int inlen, void *arg)
{
	(void)s;
	(void)arg;
	static const unsigned char ours[] = "\x08http/1.1";
	unsigned char *sel;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* e.g. h2 only: go on without ALPN */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* SNI: the first pair whose certificate names the host; else the default. */
static int sni_cb(SSL *s, int *al, void *arg)
{
	(void)al;
	struct tls_set *set = arg;
	const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
	if (name == NULL || set->n < 2)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < set->n; i++) {
		if (X509_check_host(set->cert[i], name, 0, 0, NULL) == 1) {
			if (i > 0)
				SSL_set_SSL_CTX(s, set->ctx[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

static void set_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	struct tls_set *set = ptr;
	if (set == NULL)
		return;
	for (size_t i = 1; i < set->n; i++)
		SSL_CTX_free(set->ctx[i]);
	free(set->ctx);
	free(set->cert);
	free(set);
}

static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "unknown error";
}

/* Can a key of this type sign a handshake of the policy? */
static bool key_in_policy(EVP_PKEY *pk)
{
	static const char *const ok[] = { "RSA", "RSA-PSS", "EC", "ED25519", "ED448" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (EVP_PKEY_is_a(pk, ok[i]))
			return true;
	return false;
}

static int readable(const char *what, const char *path, char *err, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, cap, "TLS %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

/* The policy every context shares. Returns 0 or -1. */
static int ctx_policy(SSL_CTX *ctx)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF |
					 (ktls_ok ? SSL_OP_ENABLE_KTLS : 0));
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers12) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, suites13) != 1 || SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1)
		return -1;
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"mthttpd", 7);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE_SIZE);
	SSL_CTX_set_timeout(ctx, SESSION_TIMEOUT_S);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	/* One TLS 1.3 ticket per full handshake, not two: one encryption less. */
	SSL_CTX_set_num_tickets(ctx, 1);
	/* A whole record (or several) per read(), not its 5-byte header first. */
	SSL_CTX_set_read_ahead(ctx, 1);
	return 0;
}

/* One context for one pair. Returns it, or NULL with err filled. */
static SSL_CTX *ctx_new(const char *cert, const char *key, char *err, size_t cap)
{
	if (readable("certificate", cert, err, cap) < 0 || readable("key", key, err, cap) < 0)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || ctx_policy(ctx) < 0) {
		snprintf(err, cap, "TLS: cannot set up the protocol policy: %s", ssl_reason());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, cap, "TLS certificate %s: %s", cert, ssl_reason());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			snprintf(err, cap, "TLS key %s does not match certificate %s", key, cert);
		else
			snprintf(err, cap, "TLS key %s: %s", key, ssl_reason());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, cap, "TLS key %s does not match certificate %s", key, cert);
		goto fail;
	}
	EVP_PKEY *pk = SSL_CTX_get0_privatekey(ctx);
	if (pk == NULL || !key_in_policy(pk)) {
		snprintf(err, cap, "TLS key %s: a %s key, which no cipher of the policy "
			 "(TLS 1.2/1.3, ECDHE with RSA or ECDSA) can use", key,
			 pk ? EVP_PKEY_get0_type_name(pk) : "unknown");
		goto fail;
	}
	X509 *x = SSL_CTX_get0_certificate(ctx);
	if (x && X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		log_warn("TLS certificate %s has expired; serving it anyway", cert);
	ERR_clear_error();
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* Every pair of cfg, as a new set owned by its ctx[0]. */
static SSL_CTX *set_build(char *err, size_t cap)
{
	struct tls_set *set = calloc(1, sizeof(*set));
	if (set == NULL || (set->ctx = calloc(cfg->n_tls, sizeof(*set->ctx))) == NULL ||
	    (set->cert = calloc(cfg->n_tls, sizeof(*set->cert))) == NULL) {
		snprintf(err, cap, "TLS: out of memory");
		if (set)
			free(set->ctx);
		free(set);
		return NULL;
	}
	for (; set->n < cfg->n_tls; set->n++) {
		SSL_CTX *ctx = ctx_new(cfg->tls_certs[set->n], cfg->tls_keys[set->n], err, cap);
		if (ctx == NULL)
			break;
		set->ctx[set->n] = ctx;
		set->cert[set->n] = SSL_CTX_get0_certificate(ctx);
	}
	if (set->n < cfg->n_tls || SSL_CTX_set_ex_data(set->ctx[0], set_idx, set) != 1) {
		if (set->n == cfg->n_tls)
			snprintf(err, cap, "TLS: out of memory");
		for (size_t i = 0; i < set->n; i++)
			SSL_CTX_free(set->ctx[i]);
		free(set->ctx);
		free(set->cert);
		free(set);
		return NULL;
	}
	SSL_CTX_set_tlsext_servername_callback(set->ctx[0], sni_cb);
	SSL_CTX_set_tlsext_servername_arg(set->ctx[0], set);
	return set->ctx[0];
}

/* kTLS needs the kernel's tls ULP (module tls); without it SSL_sendfile
 * cannot work, and files are encrypted in user space. */
static bool ktls_available(void)
{
	char buf[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
		if (strcmp(t, "tls") == 0)
			return true;
	return false;
}

int tls_setup(char *err, size_t cap)
{
	if (cfg->hsts > 0)
		snprintf(tls_hsts_header, sizeof(tls_hsts_header), "Strict-Transport-Security: max-age=%ld\r\n",
			 cfg->hsts);
	if (cfg->n_tls == 0)
		return 0;
	set_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, set_free_cb);
	if (set_idx < 0) {
		snprintf(err, cap, "TLS: cannot initialise OpenSSL");
		return -1;
	}
	ktls_ok = ktls_available();
	if (bios_init() < 0) {
		snprintf(err, cap, "TLS: cannot create the record BIOs");
		return -1;
	}
	SSL_CTX *ctx = set_build(err, cap);
	if (ctx == NULL)
		return -1;
	cur = ctx;
	log_info("TLS: %zu certificate(s), TLS 1.2/1.3, ticket keys rotate every %d s; kTLS %s",
		 cfg->n_tls, TICKET_ROTATE_S,
		 ktls_ok ? "enabled where the cipher allows" : "unavailable (no tls ULP): files are encrypted in user space");
	return 0;
}

bool tls_enabled(void)
{
	return cur != NULL;
}

int tls_reload(void)
{
	if (cur == NULL)
		return 0;
	char err[512];
	SSL_CTX *ctx = set_build(err, sizeof(err));
	if (ctx == NULL) {
		log_error("SIGHUP: %s; still serving the certificates loaded before", err);
		return -1;
	}
	pthread_mutex_lock(&cur_lock);
	SSL_CTX *old = cur;
	cur = ctx;
	pthread_mutex_unlock(&cur_lock);
	SSL_CTX_free(old); /* open connections hold their own references */
	log_info("SIGHUP: reloaded %zu TLS certificate(s)", cfg->n_tls);
	return 0;
}

void tls_shutdown_all(void)
{
	pthread_mutex_lock(&cur_lock);
	SSL_CTX_free(cur);
	cur = NULL;
	pthread_mutex_unlock(&cur_lock);
}

void tls_redirect_location(struct obuf *o, const char *host, size_t host_n, const char *target,
			   size_t target_n)
{
	ob_puts(o, "Location: https://");
	if (host == NULL || host_n == 0) {
		bool v6 = strchr(cfg->host, ':') != NULL;
		host = cfg->host;
		host_n = strlen(host);
		if (v6)
			ob_puts(o, "[");
		ob_put(o, host, host_n);
		if (v6)
			ob_puts(o, "]");
	} else {
		/* Drop the port: the last ':' after any ']' of an IPv6 literal. */
		const char *end = host + host_n;
		const char *br = memchr(host, ']', host_n);
		const char *from = br ? br : host;
		const char *colon = memrchr(from, ':', (size_t)(end - from));
		ob_put(o, host, colon ? (size_t)(colon - host) : host_n);
	}
	if (cfg->tls_port != 443) {
		ob_puts(o, ":");
		ob_u64(o, cfg->tls_port);
	}
	ob_put(o, target, target_n);
	ob_puts(o, "\r\n");
}

/* ---- connections ---- */

/* ---- the write side: records gathered, then one write() ----
 *
 * OpenSSL's socket BIO writes every record with its own write(), and
 * OpenSSL flushes after each handshake flight. The connection's BIO
 * instead gathers records in its worker's stage (one buffer per thread)
 * and writes them with one send() only when the next record does not fit
 * the connection's share, or when mthttpd flushes (tls_flush): at the end
 * of a response, and whenever the connection is about to wait for input
 * (tls_handshake, tls_read) or close (tls_free). OpenSSL's own flushes are
 * no-ops, so the flight that ends a handshake (a TLS 1.3 ticket; a TLS 1.2
 * server Finished) leaves with the first response, and a close_notify that
 * follows a response at once (tls_end) leaves with it: a full handshake
 * with one request and Connection: close costs two writes, not four.
 *
 * A connection's share of the stage starts at SHARE_MIN (four records)
 * and doubles, up to STAGE_CAP (sixteen), each time the socket takes a
 * whole share in one send: a 1 MiB file is four sends, not sixty-four as
 * with the socket BIO (system calls are the dearest part of a large
 * response after the cipher). What a socket does not take moves to the
 * connection's own buffer, held only until it is sent, and the share
 * drops back to SHARE_MIN: a client that stops reading holds at most one
 * share, never more than twice what its socket last took in one send, on
 * top of what the kernel holds for it.
 * When the socket takes nothing, the BIO says "retry" and SSL_write says
 * WANT_WRITE, as with the socket BIO. */
#define REC_MAX (TLS_RECORD + 64) /* a record with its header and tag */
#define SHARE_MIN (4 * REC_MAX)
#define STAGE_CAP (16 * REC_MAX)

struct tls_out {
	int fd;
	bool broken;    /* a send failed: every later write fails */
	uint32_t share; /* stage bytes gathered before a send */
	uint32_t off, n;
	char *p;        /* what the socket did not take, or NULL */
};

static _Thread_local struct {
	char *p;
	uint32_t n;
	struct tls_out *owner; /* whose bytes p holds (n > 0) */
} stage;

static BIO_METHOD *out_meth;
static int out_type;

/* Sends p[0..n) on o's socket; more: MSG_MORE (the response goes on).
 * Returns the bytes sent, or -errno when none were. */
static ssize_t out_send(struct tls_out *o, const char *p, size_t n, int more)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = send(o->fd, p + done, n - done, MSG_NOSIGNAL | more);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		o->broken = true;
		return -EPIPE;
	}
	return done ? (ssize_t)done : -EAGAIN;
}

/* Sends o's held bytes. Returns 0 when none are left, else -errno. */
static int held_flush(struct tls_out *o)
{
	if (o->broken)
		return -EPIPE;
	if (o->p == NULL)
		return 0;
	ssize_t w = out_send(o, o->p + o->off, o->n - o->off, 0);
	if (w < 0)
		return (int)w;
	o->off += (uint32_t)w;
	if (o->off < o->n)
		return -EAGAIN;
	free(o->p);
	o->p = NULL;
	o->off = o->n = 0;
	return 0;
}

/* Sends the stage for its owner; what the socket does not take becomes
 * the owner's held bytes. Returns 0 when all left, else -errno. */
static int stage_flush(int more)
{
	struct tls_out *o = stage.owner;
	uint32_t n = stage.n;
	stage.owner = NULL;
	stage.n = 0;
	if (o == NULL || n == 0)
		return 0;
	ssize_t w = out_send(o, stage.p, n, more);
	if (w == -EPIPE)
		return -EPIPE;
	if (w == (ssize_t)n) {
		if (n + REC_MAX > o->share && o->share < STAGE_CAP)
			o->share = o->share * 2 < STAGE_CAP ? o->share * 2 : STAGE_CAP;
		return 0;
	}
	size_t sent = w > 0 ? (size_t)w : 0;
	o->share = SHARE_MIN;
	if ((o->p = malloc(n - sent)) == NULL) {
		o->broken = true; /* a record cut short: the stream is lost */
		return -EPIPE;
	}
	memcpy(o->p, stage.p + sent, n - sent);
	o->off = 0;
	o->n = (uint32_t)(n - sent);
	return -EAGAIN;
}

static int out_write(BIO *b, const char *data, size_t len, size_t *written)
{
	struct tls_out *o = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	int rc = held_flush(o);
	if (rc == 0 && stage.owner != o && stage.n)
		stage_flush(0); /* another connection's (not expected) */
	if (rc == 0 && stage.n + len > o->share)
		rc = stage_flush(MSG_MORE);
	if (rc == -EAGAIN)
		BIO_set_retry_write(b);
	if (rc < 0)
		return 0;
	if (len > o->share) { /* never from OpenSSL's records; sent as is */
		ssize_t w = out_send(o, data, len, 0);
		if (w == -EAGAIN)
			BIO_set_retry_write(b);
		if (w < 0)
			return 0;
		*written = (size_t)w;
		return 1;
	}
	if (stage.p == NULL && (stage.p = malloc(STAGE_CAP)) == NULL)
		return 0;
	memcpy(stage.p + stage.n, data, len);
	stage.n += (uint32_t)len;
	stage.owner = o;
	*written = len;
	return 1;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num, (void)ptr;
	struct tls_out *o = BIO_get_data(b);
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1; /* held until mthttpd flushes (see above) */
	case BIO_CTRL_WPENDING:
		return (long)(o->n - o->off) + (stage.owner == o ? (long)stage.n : 0);
	default:
		return 0;
	}
}

static int out_destroy(BIO *b)
{
	struct tls_out *o = BIO_get_data(b);
	if (o) {
		if (stage.owner == o) { /* unsent: dropped, as the connection is */
			stage.owner = NULL;
			stage.n = 0;
		}
		free(o->p);
		free(o);
		BIO_set_data(b, NULL);
	}
	return 1;
}

/* A BIO of method m over data (freed here when none can be made), or NULL. */
static BIO *bio_on(BIO_METHOD *m, void *data)
{
	BIO *b = data ? BIO_new(m) : NULL;
	if (b == NULL) {
		free(data);
		return NULL;
	}
	BIO_set_data(b, data);
	BIO_set_init(b, 1);
	return b;
}

/* The gathering BIO on fd, or NULL. */
static BIO *out_new(int fd)
{
	struct tls_out *o = calloc(1, sizeof(*o));
	if (o) {
		o->fd = fd;
		o->share = SHARE_MIN;
	}
	return bio_on(out_meth, o);
}

/* The connection's gathering state, or NULL (kTLS: the socket BIO). */
static struct tls_out *out_of(SSL *s)
{
	BIO *b = SSL_get_wbio(s);
	if (out_meth == NULL || b == NULL || BIO_method_type(b) != out_type)
		return NULL;
	return BIO_get_data(b);
}

int tls_flush(struct ssl_st *s)
{
	struct tls_out *o = out_of(s);
	if (o == NULL)
		return 0;
	int rc = held_flush(o);
	if (rc == 0 && stage.owner == o)
		rc = stage_flush(0);
	return rc;
}

void tls_turn_end(void)
{
	if (stage.owner)
		stage_flush(0);
}

static _Thread_local char *file_buf; /* tls_sendfile's, TLS_FILE_READ bytes */

void tls_thread_end(void)
{
	tls_turn_end();
	free(stage.p);
	stage.p = NULL;
	free(file_buf);
	file_buf = NULL;
}

/* ---- the read side: recvmsg, the receive time, and no useless read ----
 *
 * The connection's read BIO calls recvmsg() itself, for the kernel's
 * receive timestamp (SO_TIMESTAMPNS, inherited from the listener): with
 * it, an HTTPS request is known to have arrived before the last look at
 * the file-change queue as a plain one is (conn.c, make_fresh), instead
 * of making its worker read the queue once per request. It remembers that
 * the last read left the socket empty (fewer bytes than asked, or EAGAIN)
 * until epoll reports readiness again (tls_readable): edge-triggered epoll
 * reports any byte that arrives after that read, so OpenSSL's next read is
 * answered "retry" without a system call (the read that would say EAGAIN
 * after a handshake flight, or after a request that came in one piece).
 * And it looks at the first byte of the connection: an uppercase letter
 * is a plain HTTP request (a TLS record starts with 22), told when the
 * handshake then fails. */
struct tls_in {
	int fd;
	bool dry, seen, plain, eof;
	int64_t rx_ns; /* receive time of the last bytes read, or 0 */
};

static BIO_METHOD *in_meth;

static int in_read(BIO *b, char *p, size_t len, size_t *got)
{
	struct tls_in *in = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (in->dry) {
		BIO_set_retry_read(b);
		return 0;
	}
	ssize_t r;
	do
		r = ev_recv_stamped(in->fd, p, len, &in->rx_ns);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN) {
		in->dry = true;
		BIO_set_retry_read(b);
		return 0;
	}
	if (r <= 0) {
		in->eof = r == 0;
		return 0;
	}
	in->dry = (size_t)r < len;
	if (!in->seen) {
		in->seen = true;
		in->plain = p[0] >= 'A' && p[0] <= 'Z';
	}
	*got = (size_t)r;
	return 1;
}

static long in_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num, (void)ptr;
	struct tls_in *in = BIO_get_data(b);
	switch (cmd) {
	case BIO_CTRL_EOF:
		return in->eof;
	case BIO_CTRL_FLUSH:
		return 1;
	default:
		return 0;
	}
}

static int in_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

/* The reading BIO on fd, or NULL. */
static BIO *in_new(int fd)
{
	struct tls_in *in = calloc(1, sizeof(*in));
	if (in)
		in->fd = fd;
	return bio_on(in_meth, in);
}

/* Both BIO methods, once. Returns 0 or -1. */
static int bios_init(void)
{
	out_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
	out_meth = BIO_meth_new(out_type, "mthttpd records");
	in_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mthttpd input");
	if (out_meth == NULL || in_meth == NULL || !BIO_meth_set_write_ex(out_meth, out_write) ||
	    !BIO_meth_set_ctrl(out_meth, out_ctrl) || !BIO_meth_set_destroy(out_meth, out_destroy) ||
	    !BIO_meth_set_read_ex(in_meth, in_read) || !BIO_meth_set_ctrl(in_meth, in_ctrl) ||
	    !BIO_meth_set_destroy(in_meth, in_destroy))
		return -1;
	return 0;
}

static struct tls_in *in_of(SSL *s)
{
	return BIO_get_data(SSL_get_rbio(s));
}

void tls_readable(struct ssl_st *s)
{
	in_of(s)->dry = false;
}

int64_t tls_rx_ns(struct ssl_st *s)
{
	return in_of(s)->rx_ns;
}

struct ssl_st *tls_new(int fd)
{
	pthread_mutex_lock(&cur_lock);
	SSL *s = cur ? SSL_new(cur) : NULL;
	pthread_mutex_unlock(&cur_lock);
	if (s == NULL)
		return NULL;
	/* With kTLS the socket BIO writes (SSL_sendfile needs it); else
	 * records are gathered. */
	BIO *r = in_new(fd);
	BIO *w = ktls_ok ? BIO_new_socket(fd, BIO_NOCLOSE) : out_new(fd);
	if (r == NULL || w == NULL) {
		BIO_free(r);
		BIO_free(w);
		SSL_free(s);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_bio(s, r, w);
	SSL_set_accept_state(s);
	return s;
}

void tls_close_notify(struct ssl_st *s)
{
	if (SSL_is_init_finished(s) && !(SSL_get_shutdown(s) & SSL_SENT_SHUTDOWN)) {
		SSL_shutdown(s);
		ERR_clear_error();
		tls_flush(s); /* best effort: the alert, and nothing else, is left */
	}
}

void tls_end(struct ssl_st *s)
{
	struct tls_out *o = out_of(s);
	/* Only when the alert fits in what is gathered: queueing it must not
	 * have to write (and perhaps leave it half-sent inside OpenSSL). */
	if (o == NULL || o->p || (stage.n && stage.owner != o) || stage.n + 64 > o->share ||
	    !SSL_is_init_finished(s) || (SSL_get_shutdown(s) & SSL_SENT_SHUTDOWN))
		return;
	SSL_shutdown(s);
	ERR_clear_error();
}

void tls_free(struct ssl_st *s, bool notify)
{
	if (s == NULL)
		return;
	if (notify) {
		tls_close_notify(s);
		tls_flush(s); /* and whatever else is gathered, a fatal alert say */
	}
	SSL_free(s);
}

unsigned long tls_failures(void)
{
	return atomic_load(&hs_failures);
}

static void hs_failed(const char *peer, const char *why)
{
	unsigned long n = atomic_fetch_add(&hs_failures, 1) + 1;
	long now = (long)time(NULL);
	long last = atomic_load(&hs_logged_s);
	if (now != last && atomic_compare_exchange_strong(&hs_logged_s, &last, now))
		log_refusal("TLS handshake with %s failed: %s (%lu failure(s) since start; "
			    "logged at most once a second)", peer ? peer : "?", why, n);
}

enum tls_hs tls_handshake(struct ssl_st *s, const char *peer)
{
	int r = SSL_do_handshake(s);
	if (r == 1)
		return TLS_HS_DONE;
	int e = SSL_get_error(s, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		/* The flight OpenSSL wrote goes out before we wait for the
		 * answer (EAGAIN: EPOLLOUT brings us back here). */
		tls_flush(s);
		return TLS_HS_AGAIN;
	}
	if (in_of(s)->plain) {
		ERR_clear_error();
		return TLS_HS_PLAIN;
	}
	const char *why = e == SSL_ERROR_SSL ? ssl_reason()
			  : e == SSL_ERROR_SYSCALL && errno ? strerror(errno)
							    : "connection closed";
	hs_failed(peer, why);
	ERR_clear_error();
	return TLS_HS_FAILED;
}

ssize_t tls_read(struct ssl_st *s, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		size_t want = n - got < INT_MAX ? n - got : INT_MAX;
		int r = SSL_read(s, (char *)p + got, (int)want);
		if (r > 0) {
			got += (size_t)r;
			/* The socket is empty and nothing is left buffered:
			 * another read would only say EAGAIN. */
			if (in_of(s)->dry && !SSL_has_pending(s))
				return (ssize_t)got;
			continue;
		}
		int e = SSL_get_error(s, r);
		if (got)
			return (ssize_t)got; /* the end or error shows on the next call */
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			/* About to wait for input: what is gathered (a ticket
			 * after the handshake, a KeyUpdate) goes out now. */
			tls_flush(s);
			errno = EAGAIN;
			return -1;
		}
		ERR_clear_error();
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		errno = ECONNRESET;
		return -1;
	}
	return (ssize_t)got;
}

static ssize_t write_record(SSL *s, const void *p, size_t n)
{
	int r = SSL_write(s, p, (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(s, r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	errno = EPIPE;
	return -1;
}

ssize_t tls_writev(struct ssl_st *s, const struct iovec *iov, int n)
{
	if (n == 1 || iov[0].iov_len >= TLS_RECORD)
		return write_record(s, iov[0].iov_base,
				    iov[0].iov_len < TLS_RECORD ? iov[0].iov_len : TLS_RECORD);
	/* Small pieces make one record, not one each. */
	char buf[TLS_RECORD];
	size_t len = 0;
	for (int i = 0; i < n && len < sizeof(buf); i++) {
		size_t take = iov[i].iov_len < sizeof(buf) - len ? iov[i].iov_len : sizeof(buf) - len;
		memcpy(buf + len, iov[i].iov_base, take);
		len += take;
	}
	return write_record(s, buf, len);
}

ssize_t tls_sendfile(struct ssl_st *s, int fd, uint64_t off, size_t len)
{
	if (BIO_get_ktls_send(SSL_get_wbio(s))) {
		ossl_ssize_t r = SSL_sendfile(s, fd, (off_t)off, len, 0);
		if (r >= 0)
			return r;
		int e = SSL_get_error(s, (int)r);
		ERR_clear_error();
		errno = e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPIPE;
		return -1;
	}
	/* One pread for as many records as the connection's share of the
	 * stage holds, written as records until the socket is full. After
	 * EAGAIN the next call reads again from the first unsent byte: the
	 * record offered again is the same, as SSL_write wants. The buffer
	 * is the worker's. */
	if (file_buf == NULL && (file_buf = malloc(TLS_FILE_READ)) == NULL)
		return -1;
	char *buf = file_buf;
	struct tls_out *o = out_of(s);
	size_t fit = o ? o->share / REC_MAX * TLS_RECORD : TLS_FILE_READ;
	size_t want = len < fit ? len : fit;
	ssize_t n = pread(fd, buf, want, (off_t)off);
	if (n <= 0) {
		if (n < 0)
			errno = EIO;
		return n;
	}
	size_t done = 0;
	while (done < (size_t)n) {
		size_t rec = (size_t)n - done < TLS_RECORD ? (size_t)n - done : TLS_RECORD;
		ssize_t w = write_record(s, buf + done, rec);
		if (w < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)w;
	}
	return (ssize_t)done;
}
