/*-------------------------------------------------------------------------
 *
 * fuzz_alloc.c
 *		The allocator of the fuzz targets: palloc and friends as malloc,
 *		every allocation of an input tracked and freed after it
 *		(fuzz_free_all), as a memory context would be reset.  Built into
 *		binlog_fuzz (frontend) and stream_fuzz (backend headers).
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "fuzz_alloc.h"

static void **ptrs;
static size_t nptrs;
static size_t maxptrs;

/*
 * track: remember an allocation of this input.
 */
static void *
track(void *p)
{
	if (p == NULL)
		abort();
	if (nptrs == maxptrs)
	{
		maxptrs = maxptrs ? maxptrs * 2 : 1024;
		ptrs = realloc(ptrs, sizeof(void *) * maxptrs);
		if (ptrs == NULL)
			abort();
	}
	ptrs[nptrs++] = p;
	return p;
}

/*
 * untrack: forget an allocation (freed or moved); returns its slot.
 */
static size_t
untrack(void *p)
{
	for (size_t i = nptrs; i > 0; i--)
		if (ptrs[i - 1] == p)
			return i - 1;
	abort();
}

/* palloc: malloc, tracked for this input. */
void *
palloc(Size size)
{
	return track(malloc(size ? size : 1));
}

/* palloc0: calloc, tracked for this input. */
void *
palloc0(Size size)
{
	return track(calloc(1, size ? size : 1));
}

/* palloc_extended: zeroed memory (the flags ask for no less). */
void *
palloc_extended(Size size, int flags)
{
	return palloc0(size);
}

/* repalloc: realloc, keeping the tracking slot. */
void *
repalloc(void *pointer, Size size)
{
	size_t		slot = untrack(pointer);
	void	   *q = realloc(pointer, size ? size : 1);

	if (q == NULL)
		abort();
	ptrs[slot] = q;
	return q;
}

/* pfree: free and forget. */
void
pfree(void *pointer)
{
	size_t		slot = untrack(pointer);

	ptrs[slot] = ptrs[--nptrs];
	free(pointer);
}

/* pstrdup: a tracked copy of a string. */
char *
pstrdup(const char *in)
{
	size_t		n = strlen(in);
	char	   *p = palloc(n + 1);

	memcpy(p, in, n + 1);
	return p;
}

/* pnstrdup: a tracked copy of at most size bytes of a string. */
char *
pnstrdup(const char *in, Size size)
{
	size_t		n = strnlen(in, size);
	char	   *p = palloc(n + 1);

	memcpy(p, in, n);
	p[n] = '\0';
	return p;
}

/*
 * fuzz_free_all: free every allocation of the input.
 */
void
fuzz_free_all(void)
{
	while (nptrs > 0)
		free(ptrs[--nptrs]);
}
