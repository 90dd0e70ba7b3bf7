/* Unit tests for src/ratelimit.c: the bucket's exact arithmetic, the
 * Retry-After it computes, keys (IPv4, IPv6 per /64), a full table, and
 * several threads sharing one limiter. */
#include "ratelimit.h"
#include "test.h"

#include <pthread.h>

static void test_bucket(void)
{
	struct ratelimit *rl = rl_new(3);
	unsigned retry = 0;
	ASSERT_TRUE(__LINE__, rl != NULL);
	ASSERT_TRUE(__LINE__, rl_new(0) == NULL);
	/* A burst of three, then refused: a token every 20 s. */
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(__LINE__, rl_take(rl, "192.0.2.1", 1000, &retry));
	ASSERT_TRUE(__LINE__, !rl_take(rl, "192.0.2.1", 1000, &retry));
	ASSERT_EQ(__LINE__, retry, 20);
	ASSERT_TRUE(__LINE__, !rl_take(rl, "192.0.2.1", 1000 + 19001, &retry));
	ASSERT_EQ(__LINE__, retry, 1);
	ASSERT_TRUE(__LINE__, !rl_take(rl, "192.0.2.1", 1000 + 19999, &retry));
	ASSERT_TRUE(__LINE__, rl_take(rl, "192.0.2.1", 1000 + 20000, &retry));
	ASSERT_TRUE(__LINE__, !rl_take(rl, "192.0.2.1", 1000 + 20000, &retry));
	/* Another address has its own bucket. */
	ASSERT_TRUE(__LINE__, rl_take(rl, "192.0.2.2", 1000, &retry));
	/* A long pause refills to the burst, no more. */
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(__LINE__, rl_take(rl, "192.0.2.1", 10000000, &retry));
	ASSERT_TRUE(__LINE__, !rl_take(rl, "192.0.2.1", 10000000, &retry));
	/* A clock that goes back takes nothing away, gives nothing. */
	ASSERT_TRUE(__LINE__, !rl_take(rl, "192.0.2.1", 5, &retry));
	rl_free(rl);
}

static void test_keys(void)
{
	struct ratelimit *rl = rl_new(1);
	unsigned retry;
	ASSERT_TRUE(__LINE__, rl_take(rl, "2001:db8:1:2::1", 0, &retry));
	/* The same /64: the same bucket. */
	ASSERT_TRUE(__LINE__, !rl_take(rl, "2001:db8:1:2:ffff::9", 0, &retry));
	ASSERT_EQ(__LINE__, retry, 60);
	/* Another /64: its own. */
	ASSERT_TRUE(__LINE__, rl_take(rl, "2001:db8:1:3::1", 0, &retry));
	/* IPv4 addresses are whole addresses. */
	ASSERT_TRUE(__LINE__, rl_take(rl, "10.0.0.1", 0, &retry));
	ASSERT_TRUE(__LINE__, rl_take(rl, "10.0.0.2", 0, &retry));
	ASSERT_TRUE(__LINE__, !rl_take(rl, "10.0.0.1", 0, &retry));
	rl_free(rl);
}

static void test_full_table(void)
{
	struct ratelimit *rl = rl_new(1);
	unsigned retry;
	char a[32];
	/* Far more addresses than slots: each still gets its first upload,
	 * and the table never grows. */
	int ok = 0;
	for (int i = 0; i < 4 * RL_SLOTS; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		ok += rl_take(rl, a, 0, &retry);
	}
	ASSERT_EQ(__LINE__, ok, 4 * RL_SLOTS);
	/* A recent address that used its token is still remembered while
	 * others with a full bucket can be evicted instead. */
	ASSERT_TRUE(__LINE__, rl_take(rl, "192.0.2.77", 60000 * 5, &retry));
	ASSERT_TRUE(__LINE__, !rl_take(rl, "192.0.2.77", 60000 * 5, &retry));
	rl_free(rl);
}

struct worker {
	struct ratelimit *rl;
	int granted;
};

static void *take_many(void *arg)
{
	struct worker *w = arg;
	unsigned retry;
	for (int i = 0; i < 1000; i++)
		w->granted += rl_take(w->rl, "198.51.100.7", 42, &retry);
	return NULL;
}

static void test_threads(void)
{
	/* Four threads (workers) share one bucket: exactly the burst is
	 * granted in total, not four times it. */
	struct ratelimit *rl = rl_new(50);
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i].rl = rl;
		w[i].granted = 0;
		pthread_create(&t[i], NULL, take_many, &w[i]);
	}
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += w[i].granted;
	}
	ASSERT_EQ(__LINE__, total, 50);
	rl_free(rl);
}

int main(void)
{
	test_bucket();
	test_keys();
	test_full_table();
	test_threads();
	return test_summary();
}
