/* Dropping root for --user. */
#include "privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int privdrop_lookup(struct privdrop *p, const char *spec, char *err, size_t cap)
{
	memset(p, 0, sizeof(*p));
	char user[sizeof(p->name)];
	const char *colon = strchr(spec, ':');
	size_t un = colon ? (size_t)(colon - spec) : strlen(spec);
	if (un == 0 || un >= sizeof(user) || (colon && colon[1] == '\0')) {
		snprintf(err, cap, "invalid --user '%s': expected NAME or NAME:GROUP", spec);
		return -1;
	}
	memcpy(user, spec, un);
	user[un] = '\0';
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, cap, "unknown user '%s' in --user%s%s", user, errno ? ": " : "",
			 errno ? strerror(errno) : "");
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->name, sizeof(p->name), "%s", user);
	if (colon) {
		errno = 0;
		struct group *gr = getgrnam(colon + 1);
		if (gr == NULL) {
			snprintf(err, cap, "unknown group '%s' in --user%s%s", colon + 1, errno ? ": " : "",
				 errno ? strerror(errno) : "");
			return -1;
		}
		p->gid = gr->gr_gid;
	}
	/* The user's supplementary groups, as login would give them; with an
	 * explicit GROUP, that one leads. */
	int n = 16;
	for (;;) {
		gid_t *g = realloc(p->groups, (size_t)n * sizeof(*g));
		if (g == NULL) {
			snprintf(err, cap, "out of memory");
			return -1;
		}
		p->groups = g;
		int want = n;
		if (getgrouplist(user, p->gid, p->groups, &want) >= 0) {
			p->ngroups = want;
			break;
		}
		if (want <= n || want > 65536) {
			snprintf(err, cap, "groups of user '%s': cannot list them", user);
			return -1;
		}
		n = want;
	}
	p->set = true;
	return 0;
}

int privdrop_access(const struct privdrop *p, int dirfd, const char *path, int mode)
{
	if (p == NULL || !p->set || geteuid() != 0)
		return faccessat(dirfd, path, mode, AT_EACCESS) < 0 ? -errno : 0;
	gid_t egid = getegid();
	int nsaved = getgroups(0, NULL);
	if (nsaved < 0)
		return -errno;
	gid_t *saved = malloc((size_t)(nsaved + 1) * sizeof(*saved));
	if (saved == NULL)
		return -ENOMEM;
	nsaved = getgroups(nsaved, saved);
	int rc;
	/* Groups and gid first: once the uid is not 0 they cannot change. */
	if (nsaved < 0 || setgroups((size_t)p->ngroups, p->groups) < 0 || setegid(p->gid) < 0 ||
	    seteuid(p->uid) < 0)
		rc = -errno;
	else
		rc = faccessat(dirfd, path, mode, AT_EACCESS) < 0 ? -errno : 0;
	if (seteuid(0) < 0 || setegid(egid) < 0 || (nsaved >= 0 && setgroups((size_t)nsaved, saved) < 0))
		rc = -EPERM;
	free(saved);
	return rc;
}

int privdrop_apply(const struct privdrop *p, char *err, size_t cap)
{
	if (setgroups((size_t)p->ngroups, p->groups) < 0) {
		snprintf(err, cap, "--user %s: setgroups: %s", p->name, strerror(errno));
		return -1;
	}
	if (setgid(p->gid) < 0) {
		snprintf(err, cap, "--user %s: setgid(%u): %s", p->name, (unsigned)p->gid, strerror(errno));
		return -1;
	}
	if (setuid(p->uid) < 0) {
		snprintf(err, cap, "--user %s: setuid(%u): %s", p->name, (unsigned)p->uid, strerror(errno));
		return -1;
	}
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 || r != p->uid || e != p->uid ||
	    s != p->uid || rg != p->gid || eg != p->gid || sg != p->gid) {
		snprintf(err, cap, "--user %s: the user and group ids did not all change", p->name);
		return -1;
	}
	/* The proof: root cannot be had back. */
	if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, cap, "--user %s: root privileges could be regained after the drop", p->name);
		return -1;
	}
	return 0;
}
