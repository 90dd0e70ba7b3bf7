/* Validators and conditional requests (RFC 9110 §8.8, §13). Pure apart from
 * reading the clock: no I/O, no malloc.
 *
 * Calendar arithmetic is done here rather than with timegm()/mktime(): those
 * consult the TZ environment and locale, are slow, and mktime() is wrong for
 * UTC anyway. The proleptic Gregorian conversions below are exact for every
 * int64 day count we can meet. */
#include "cond.h"

#include "chars.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SECS_PER_DAY 86400

/* Field values should arrive trimmed, but trimming twice costs nothing and
 * keeps these functions safe to call on raw slices. */
static void trim_ows(const char **v, size_t *n)
{
	while (*n > 0 && ch_is_ows((*v)[0])) {
		(*v)++;
		(*n)--;
	}
	while (*n > 0 && ch_is_ows((*v)[*n - 1]))
		(*n)--;
}

/* ---- Entity tags (§8.8.3) ---------------------------------------------- */

/* etagc = %x21 / %x23-7E / obs-text */
static bool is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

struct etag {
	const char *p; /* the opaque-tag, quotes included */
	size_t n;
	bool weak;
};

/* Reads entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE at v[*i..n). "W/" is
 * case-sensitive (%s in the ABNF). Returns false if malformed. */
static bool read_etag(const char *v, size_t n, size_t *i, struct etag *t)
{
	size_t j = *i;

	t->weak = false;
	if (n - j >= 2 && v[j] == 'W' && v[j + 1] == '/') {
		t->weak = true;
		j += 2;
	}
	if (j >= n || v[j] != '"')
		return false;
	t->p = v + j++;
	while (j < n && is_etagc((unsigned char)v[j]))
		j++;
	if (j >= n || v[j] != '"')
		return false;
	j++;
	t->n = (size_t)(v + j - t->p);
	*i = j;
	return true;
}

/* Parses v[0..n) as exactly one entity-tag. */
static bool parse_one_etag(const char *v, size_t n, struct etag *t)
{
	size_t i = 0;

	return v != NULL && read_etag(v, n, &i, t) && i == n;
}

static bool etag_eq(const struct etag *a, const struct etag *b, bool strong)
{
	if (strong && (a->weak || b->weak))
		return false;
	return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

size_t etag_make(char *buf, uint64_t ino, uint64_t size, int64_t mtime_ns, char variant)
{
	/* Each encoding is a different representation, so it needs its own
	 * tag; otherwise a cache could answer a gzip request with br bytes. */
	const char *suffix = variant == 'b' ? "-br" : variant == 'g' ? "-gz" : "";
	/* Worst case: 2 quotes + 3 * 16 hex + 2 dashes + 3 = 55 < ETAG_MAX. */
	int len = snprintf(buf, ETAG_MAX, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "%s\"",
			   ino, size, (uint64_t)mtime_ns, suffix);

	return (size_t)len;
}

/* Scans one list v[0..n) of entity-tags, empty elements and OWS around
 * commas allowed (§5.6.1.2). Returns 1 when an element matches mine, 0
 * when none does, -1 when the list is malformed. The whole list is checked
 * even after a match, because a malformed list must match nothing. */
static int etag_scan(const char *v, size_t n, const struct etag *mine, bool strong)
{
	struct etag t;
	int matched = 0;
	size_t i = 0;

	for (;;) {
		while (i < n && ch_is_ows(v[i]))
			i++;
		if (i >= n)
			break;
		if (v[i] == ',') {
			i++;
			continue;
		}
		if (!read_etag(v, n, &i, &t))
			return -1;
		if (etag_eq(&t, mine, strong))
			matched = 1;
		while (i < n && ch_is_ows(v[i]))
			i++;
		if (i < n && v[i] != ',')
			return -1;
	}
	return matched;
}

bool etag_list_match(const char *v, size_t n, const char *etag, size_t elen, bool strong)
{
	struct etag mine;

	if (v == NULL)
		return false;
	trim_ows(&v, &n);
	/* "*" stands alone; inside a list it is a syntax error. We only get
	 * here for a file that exists, so "*" always matches. */
	if (n == 1 && v[0] == '*')
		return true;
	if (!parse_one_etag(etag, elen, &mine))
		return false;
	return etag_scan(v, n, &mine, strong) == 1;
}

bool etag_lines_match(const struct hp_slice *lines, size_t nlines, const char *etag,
		      size_t elen, bool strong)
{
	struct etag mine;
	bool matched = false;

	/* One line is the plain case, "*" included. On several lines "*"
	 * cannot stand alone: the joined list "*, ..." is malformed, which
	 * etag_scan finds, as '*' cannot start an entity-tag. An element
	 * cannot span two lines either: the join puts ", " between them. */
	if (nlines == 1)
		return etag_list_match(lines[0].p, lines[0].n, etag, elen, strong);
	if (nlines == 0 || !parse_one_etag(etag, elen, &mine))
		return false;
	for (size_t k = 0; k < nlines; k++) {
		int r = etag_scan(lines[k].p, lines[k].n, &mine, strong);

		if (r < 0)
			return false;
		matched |= r == 1;
	}
	return matched;
}

/* ---- HTTP-date (§5.6.7) ------------------------------------------------ */

static const char wday_short[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const wday_long[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};
static const char month_name[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Days since 1970-01-01 of y-m-d, proleptic Gregorian (H. Hinnant's
 * days_from_civil): the year is shifted to start in March so the leap day
 * comes last, then 400-year eras make it exact for negative years too. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

struct date {
	int64_t year;
	unsigned mon, day, hour, min, sec;
};

static int64_t date_secs(const struct date *d)
{
	return days_from_civil(d->year, d->mon, d->day) * SECS_PER_DAY +
	       d->hour * 3600 + d->min * 60 + d->sec;
}

/* A cursor over the value being parsed. */
struct cur {
	const char *p;
	size_t n, i;
};

static bool lit(struct cur *c, const char *s)
{
	size_t k = strlen(s);

	if (c->n - c->i < k || memcmp(c->p + c->i, s, k) != 0)
		return false;
	c->i += k;
	return true;
}

/* Exactly count digits. */
static bool digits(struct cur *c, size_t count, unsigned *out)
{
	unsigned v = 0;

	if (c->n - c->i < count)
		return false;
	for (size_t k = 0; k < count; k++) {
		char ch = c->p[c->i + k];

		if (ch < '0' || ch > '9')
			return false;
		v = v * 10 + (unsigned)(ch - '0');
	}
	c->i += count;
	*out = v;
	return true;
}

/* Month names are case-sensitive (%s"Jan" ...). Returns 1..12 or 0. */
static unsigned month(struct cur *c)
{
	for (unsigned k = 0; k < 12; k++)
		if (lit(c, month_name[k]))
			return k + 1;
	return 0;
}

/* time-of-day = hour ":" minute ":" second */
static bool time_of_day(struct cur *c, struct date *d)
{
	return digits(c, 2, &d->hour) && lit(c, ":") &&
	       digits(c, 2, &d->min) && lit(c, ":") &&
	       digits(c, 2, &d->sec);
}

/* §5.6.7: a two-digit year that appears to be more than 50 years in the
 * future is the most recent past year with those digits. Taken as a
 * sliding window: the date lands in (now + 50y - 100y, now + 50y]. */
static void resolve_yy(struct date *d, unsigned yy, time_t now)
{
	int64_t days = (int64_t)now / SECS_PER_DAY, sod = (int64_t)now % SECS_PER_DAY;
	int64_t ny, limit;
	unsigned nm, nd;

	if (sod < 0) {
		sod += SECS_PER_DAY;
		days--;
	}
	civil_from_days(days, &ny, &nm, &nd);
	limit = days_from_civil(ny + 50, nm, nd) * SECS_PER_DAY + sod;

	d->year = (ny - ((ny % 100) + 100) % 100) + yy;
	if (date_secs(d) > limit) {
		d->year -= 100;
	} else {
		d->year += 100;
		if (date_secs(d) > limit)
			d->year -= 100;
	}
}

/* The three forms of §5.6.7:
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *   rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime-date Sun Nov  6 08:49:37 1994
 * Strict: exact spacing, case-sensitive names, fields in range. The day
 * name is required to be a valid one but not checked against the date. */
int http_date_parse(const char *v, size_t n, time_t *t)
{
	struct cur c;
	struct date d;
	unsigned wd, yy = 0, y4;
	bool two_digit_year = false;
	int64_t secs;

	if (v == NULL)
		return -1;
	trim_ows(&v, &n);
	c.p = v;
	c.n = n;
	c.i = 0;

	for (wd = 0; wd < 7; wd++)
		if (lit(&c, wday_short[wd]))
			break;
	if (wd == 7)
		return -1;

	if (lit(&c, ", ")) {
		if (!digits(&c, 2, &d.day) || !lit(&c, " ") ||
		    !(d.mon = month(&c)) || !lit(&c, " ") ||
		    !digits(&c, 4, &y4) || !lit(&c, " ") ||
		    !time_of_day(&c, &d) || !lit(&c, " GMT"))
			return -1;
		d.year = y4;
	} else if (lit(&c, " ")) {
		/* date3 = month SP ( 2DIGIT / ( SP DIGIT ) ) */
		if (!(d.mon = month(&c)) || !lit(&c, " "))
			return -1;
		if (lit(&c, " ") ? !digits(&c, 1, &d.day) : !digits(&c, 2, &d.day))
			return -1;
		if (!lit(&c, " ") || !time_of_day(&c, &d) || !lit(&c, " ") ||
		    !digits(&c, 4, &y4))
			return -1;
		d.year = y4;
	} else {
		/* The short name was a prefix of the long one. */
		c.i = 0;
		if (!lit(&c, wday_long[wd]) || !lit(&c, ", ") ||
		    !digits(&c, 2, &d.day) || !lit(&c, "-") ||
		    !(d.mon = month(&c)) || !lit(&c, "-") ||
		    !digits(&c, 2, &yy) || !lit(&c, " ") ||
		    !time_of_day(&c, &d) || !lit(&c, " GMT"))
			return -1;
		two_digit_year = true;
	}
	if (c.i != c.n)
		return -1;

	/* Second 60 is a leap second (RFC 5322 §3.3); POSIX time has no such
	 * second, so it reads as the first second of the next minute. */
	if (d.day < 1 || d.hour > 23 || d.min > 59 || d.sec > 60)
		return -1;
	if (two_digit_year)
		resolve_yy(&d, yy, time(NULL));
	if (d.day > days_in_month(d.year, d.mon))
		return -1;

	secs = date_secs(&d);
	if ((int64_t)(time_t)secs != secs)
		return -1;
	*t = (time_t)secs;
	return 0;
}

size_t http_date_format(char *buf, time_t t)
{
	/* IMF-fixdate has a 4-digit year: clamp to 0000..9999 so the output
	 * is always 29 bytes, whatever a file system reports. */
	const int64_t lo = days_from_civil(0, 1, 1) * SECS_PER_DAY;
	const int64_t hi = days_from_civil(10000, 1, 1) * SECS_PER_DAY - 1;
	int64_t s = (int64_t)t, days, sod, y;
	unsigned m, d, wd;

	if (s < lo)
		s = lo;
	if (s > hi)
		s = hi;
	days = s / SECS_PER_DAY;
	sod = s % SECS_PER_DAY;
	if (sod < 0) {
		sod += SECS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	/* 1970-01-01 was a Thursday (4). */
	wd = (unsigned)(((days % 7) + 7 + 4) % 7);

	memcpy(buf, wday_short[wd], 3);
	buf[3] = ',';
	buf[4] = ' ';
	buf[5] = (char)('0' + d / 10);
	buf[6] = (char)('0' + d % 10);
	buf[7] = ' ';
	memcpy(buf + 8, month_name[m - 1], 3);
	buf[11] = ' ';
	buf[12] = (char)('0' + y / 1000);
	buf[13] = (char)('0' + y / 100 % 10);
	buf[14] = (char)('0' + y / 10 % 10);
	buf[15] = (char)('0' + y % 10);
	buf[16] = ' ';
	buf[17] = (char)('0' + sod / 36000);
	buf[18] = (char)('0' + sod / 3600 % 10);
	buf[19] = ':';
	buf[20] = (char)('0' + sod % 3600 / 600);
	buf[21] = (char)('0' + sod % 3600 / 60 % 10);
	buf[22] = ':';
	buf[23] = (char)('0' + sod % 60 / 10);
	buf[24] = (char)('0' + sod % 10);
	memcpy(buf + 25, " GMT", 5); /* with the NUL */
	return 29;
}

/* ---- Preconditions (§13.2.2) ------------------------------------------- */

enum cond_result cond_evaluate(const struct cond_input *in)
{
	time_t d;

	/* 1, 2: If-Match (strong), else If-Unmodified-Since. An invalid
	 * date is ignored (§13.1.4). */
	if (in->if_match_lines != NULL) {
		if (!etag_lines_match(in->if_match_lines, in->if_match_nlines, in->etag,
				      in->etag_n, true))
			return COND_FAILED;
	} else if (in->if_match != NULL) {
		if (!etag_list_match(in->if_match, in->if_match_n, in->etag,
				     in->etag_n, true))
			return COND_FAILED;
	} else if (in->if_unmodified_since != NULL) {
		if (http_date_parse(in->if_unmodified_since,
				    in->if_unmodified_since_n, &d) == 0 &&
		    in->mtime > d)
			return COND_FAILED;
	}

	/* 3, 4: If-None-Match (weak), else If-Modified-Since for GET/HEAD
	 * only. A date later than our clock is not one we could have sent
	 * as Last-Modified, so it is treated as invalid (RFC 2616 §14.25);
	 * otherwise a client with a fast clock would freeze its cache. */
	if (in->if_none_match_lines != NULL || in->if_none_match != NULL) {
		bool match = in->if_none_match_lines != NULL ?
			etag_lines_match(in->if_none_match_lines, in->if_none_match_nlines,
					 in->etag, in->etag_n, false) :
			etag_list_match(in->if_none_match, in->if_none_match_n,
					in->etag, in->etag_n, false);

		if (match)
			return in->get_or_head ? COND_NOT_MODIFIED : COND_FAILED;
	} else if (in->get_or_head && in->if_modified_since != NULL) {
		if (http_date_parse(in->if_modified_since,
				    in->if_modified_since_n, &d) == 0 &&
		    d <= time(NULL) && in->mtime <= d)
			return COND_NOT_MODIFIED;
	}
	return COND_PASS;
}

bool cond_if_range(const char *v, size_t n, const char *etag, size_t etag_n, time_t mtime,
		   time_t now)
{
	struct etag theirs, mine;
	time_t d;

	if (v == NULL)
		return false;
	trim_ows(&v, &n);
	/* §13.1.5: an entity-tag must match strongly, so a weak one (either
	 * side) never does; a date must equal Last-Modified exactly, and be a
	 * strong validator (§8.8.2.2): while the second of the modification
	 * is not over, the file may change again within it under the same
	 * date, so the date is weak and the condition false (a full 200). */
	if (n > 0 && (v[0] == '"' || (n >= 2 && v[0] == 'W' && v[1] == '/'))) {
		return parse_one_etag(v, n, &theirs) &&
		       parse_one_etag(etag, etag_n, &mine) &&
		       etag_eq(&theirs, &mine, true);
	}
	return http_date_parse(v, n, &d) == 0 && d == mtime && mtime < now;
}
