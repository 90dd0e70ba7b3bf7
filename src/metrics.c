/* The --metrics scrape: per-worker counters summed, Prometheus text. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint64_t lat_le_us[MX_LAT_BUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};
static const char *const method_names[MX_METHODS] = { "GET", "HEAD", "POST", "OPTIONS", "other" };

static struct metrics *all;
static int n_all;
static double start_time;

int mx_method(const char *m, size_t n)
{
	for (int i = 0; i < MX_OTHER; i++)
		if (strlen(method_names[i]) == n && memcmp(method_names[i], m, n) == 0)
			return i;
	return MX_OTHER;
}

void mx_commit(struct metrics *m, uint64_t us)
{
	for (int i = 0; i < MX_LAT_BUCKETS; i++)
		if (i == MX_LAT_BUCKETS - 1 || us <= lat_le_us[i])
			mx_add(&m->commit_le[i], 1);
	mx_add(&m->commit_count, 1);
	mx_add(&m->commit_us_sum, us);
}

void metrics_init(int workers)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	start_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	all = calloc((size_t)workers, sizeof(*all));
	n_all = all ? workers : 0;
}

struct metrics *metrics_of(int i)
{
	static struct metrics spare; /* out of memory at start: counted nowhere */
	return i < n_all ? &all[i] : &spare;
}

static uint64_t sum(size_t offset)
{
	uint64_t s = 0;
	for (int i = 0; i < n_all; i++)
		s += atomic_load_explicit((mx_counter *)((char *)&all[i] + offset), memory_order_relaxed);
	return s;
}

#define SUM(field) sum(offsetof(struct metrics, field))

struct out {
	char *p;
	size_t n, cap;
	int ok;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	if (!o->ok)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= o->cap - o->n)
		o->ok = 0;
	else
		o->n += (size_t)k;
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)v);
}

static void requests(struct out *o)
{
	put(o, "# HELP mthttpd_requests_total Requests answered, by method and status class.\n"
	       "# TYPE mthttpd_requests_total counter\n");
	for (int m = 0; m < MX_METHODS; m++)
		for (int c = 0; c < MX_CLASSES; c++)
			put(o, "mthttpd_requests_total{method=\"%s\",code=\"%dxx\"} %llu\n", method_names[m],
			    c + 1, (unsigned long long)SUM(requests[m][c]));
}

static void commits(struct out *o)
{
	put(o, "# HELP mthttpd_upload_commit_seconds Time from a complete body to its durable name.\n"
	       "# TYPE mthttpd_upload_commit_seconds histogram\n");
	for (int i = 0; i < MX_LAT_BUCKETS; i++) {
		if (i < MX_LAT_BUCKETS - 1)
			put(o, "mthttpd_upload_commit_seconds_bucket{le=\"%g\"} %llu\n", lat_le_us[i] / 1e6,
			    (unsigned long long)SUM(commit_le[i]));
		else
			put(o, "mthttpd_upload_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)SUM(commit_le[i]));
	}
	put(o, "mthttpd_upload_commit_seconds_sum %.6f\nmthttpd_upload_commit_seconds_count %llu\n",
	    SUM(commit_us_sum) / 1e6, (unsigned long long)SUM(commit_count));
}

size_t metrics_render(char *buf, size_t cap, long open_conns)
{
	struct out o = { buf, 0, cap, 1 };
	requests(&o);
	counter(&o, "mthttpd_response_body_bytes_total", "Response body bytes sent.",
		SUM(response_bytes));
	put(&o, "# HELP mthttpd_connections_open Client connections open now.\n"
		"# TYPE mthttpd_connections_open gauge\nmthttpd_connections_open %ld\n", open_conns);
	counter(&o, "mthttpd_connections_accepted_total", "Client connections accepted.",
		SUM(conns_accepted));
	counter(&o, "mthttpd_connections_refused_total", "Connections refused over --max-conns (503).",
		SUM(conns_refused));
	counter(&o, "mthttpd_keepalive_requests_total",
		"Requests that reused a kept-alive connection.", SUM(keepalive_reuse));
	counter(&o, "mthttpd_uploads_stored_total", "Uploads stored (201).", SUM(uploads_stored));
	counter(&o, "mthttpd_uploads_refused_total", "Uploads refused (4xx).", SUM(uploads_refused));
	counter(&o, "mthttpd_uploads_failed_total", "Uploads failed (5xx).", SUM(uploads_failed));
	counter(&o, "mthttpd_upload_bytes_total", "Bytes of uploads stored.", SUM(upload_bytes));
	commits(&o);
	counter(&o, "mthttpd_file_cache_hits_total", "File requests answered from the open-file cache.",
		SUM(cache_hits));
	counter(&o, "mthttpd_file_cache_misses_total", "File requests that opened the file.",
		SUM(cache_misses));
	counter(&o, "mthttpd_inotify_overflows_total",
		"inotify queue overflows (events dropped: the cache was emptied).",
		SUM(inotify_overflows));
	put(&o, "# HELP mthttpd_start_time_seconds Start time of the process since the epoch.\n"
		"# TYPE mthttpd_start_time_seconds gauge\nmthttpd_start_time_seconds %.3f\n", start_time);
	return o.ok ? o.n : 0;
}
