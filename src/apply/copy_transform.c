/*-------------------------------------------------------------------------
 *
 * copy_transform.c
 *		Snapshot rows of a table with transforms: a COPY reader that sits
 *		between the source connector and the target's COPY, reads the
 *		source's COPY text rows of the table's read columns, drops the
 *		rows its filter rejects and writes COPY text rows of the target
 *		columns, plain columns passed through as they came and expression
 *		columns evaluated on the target (transform.c).
 *
 * COPY text: one row per line, columns separated by tabs, \N for NULL,
 * backslash escapes for control characters, backslashes and any byte
 * (\ooo octal, \xhh hex), as PostgreSQL's COPY reads and writes it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "apply/copy_in.h"
#include "transform.h"

/* hand the target a block once this much is ready */
#define TRANSFORM_BLOCK_BYTES	65536

typedef struct TransformReader
{
	TributaryCopyReader inner;	/* the connector's reader */
	void	   *inner_arg;
	TributaryTransform *tr;
	TributaryRowMeta meta;		/* what tributary.source_*() say of its rows */
	StringInfoData pending;		/* source bytes not yet consumed */
	int			pending_pos;
	StringInfoData out;			/* target rows handed out */
	char	  **raw;			/* the current row's fields, as they came */
	int		   *raw_len;
	char	  **decoded;		/* fields expressions use, unescaped; NULL: NULL */
	Datum	   *values;
	bool	   *nulls;
	MemoryContext row_cxt;
	bool		eof;
} TransformReader;

/*
 * tributary_copy_unescape: one field of a COPY text row, unescaped in
 * place; returns its new length.  COPY TO writes \\, \b, \f, \n, \r, \t
 * and \v; COPY FROM also reads octal (\123) and hex (\x4F) bytes, which
 * are taken too (shared by transforms and incremental polls).
 */
int
tributary_copy_unescape(char *s, int len)
{
	int			out = 0;

	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '\\' && i + 1 < len)
		{
			char		e = s[++i];

			switch (e)
			{
				case 'b':
					c = '\b';
					break;
				case 'f':
					c = '\f';
					break;
				case 'n':
					c = '\n';
					break;
				case 'r':
					c = '\r';
					break;
				case 't':
					c = '\t';
					break;
				case 'v':
					c = '\v';
					break;
				case 'x':
					if (i + 1 < len && isxdigit((unsigned char) s[i + 1]))
					{
						int			v = 0;

						for (int n = 0; n < 2 && i + 1 < len && isxdigit((unsigned char) s[i + 1]); n++)
						{
							char		h = s[++i];

							v = v * 16 + (isdigit((unsigned char) h) ? h - '0' : (pg_ascii_tolower((unsigned char) h) - 'a' + 10));
						}
						c = (char) v;
					}
					else
						c = 'x';
					break;
				default:
					if (e >= '0' && e <= '7')
					{
						int			v = e - '0';

						for (int n = 0; n < 2 && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '7'; n++)
							v = v * 8 + (s[++i] - '0');
						c = (char) v;
					}
					else
						c = e;
			}
		}
		s[out++] = c;
	}
	return out;
}

/*
 * decode_field: the value of a COPY text field (escapes resolved).
 */
static char *
decode_field(const char *p, int len)
{
	char	   *s = pnstrdup(p, len);

	s[tributary_copy_unescape(s, len)] = '\0';
	return s;
}

/*
 * append_escaped: a value as a COPY text field.
 */
static void
append_escaped(StringInfo out, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '\\':
				appendBinaryStringInfo(out, "\\\\", 2);
				break;
			case '\n':
				appendBinaryStringInfo(out, "\\n", 2);
				break;
			case '\r':
				appendBinaryStringInfo(out, "\\r", 2);
				break;
			case '\t':
				appendBinaryStringInfo(out, "\\t", 2);
				break;
			case '\b':
				appendBinaryStringInfo(out, "\\b", 2);
				break;
			case '\f':
				appendBinaryStringInfo(out, "\\f", 2);
				break;
			case '\v':
				appendBinaryStringInfo(out, "\\v", 2);
				break;
			default:
				appendStringInfoChar(out, *s);
		}
	}
}

/*
 * transform_line: one source row (without its newline) into zero or one
 * target row appended to r->out.
 */
static void
transform_line(TransformReader *r, char *line, int len)
{
	TributaryTransform *tr = r->tr;
	int			nfields = 0;
	char	   *p = line;
	char	   *end = line + len;
	MemoryContext old;

	for (;;)
	{
		char	   *tab = memchr(p, '\t', end - p);
		char	   *stop = tab ? tab : end;

		if (nfields >= tr->nread)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("snapshot row has more than the %d columns read", tr->nread)));
		r->raw[nfields] = p;
		r->raw_len[nfields] = stop - p;
		nfields++;
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	if (nfields != tr->nread)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("snapshot row has %d columns, %d were read", nfields, tr->nread)));

	MemoryContextReset(r->row_cxt);
	old = MemoryContextSwitchTo(r->row_cxt);
	for (int i = 0; i < tr->nread; i++)
	{
		bool		isnull = (r->raw_len[i] == 2 && r->raw[i][0] == '\\' && r->raw[i][1] == 'N');

		r->decoded[i] = (tr->used[i] && !isnull) ? decode_field(r->raw[i], r->raw_len[i]) : NULL;
	}
	MemoryContextSwitchTo(old);
	tributary_transform_set_meta(&r->meta);
	if (!tributary_transform_eval(tr, r->decoded, r->values, r->nulls))
	{
		tributary_transform_set_meta(NULL);
		return;
	}
	tributary_transform_set_meta(NULL);

	for (int c = 0; c < tr->nout; c++)
	{
		int			f = tr->out_field[c];

		if (c > 0)
			appendStringInfoChar(&r->out, '\t');
		if (f >= 0)
			appendBinaryStringInfo(&r->out, r->raw[f], r->raw_len[f]);
		else if (r->nulls[c])
			appendBinaryStringInfo(&r->out, "\\N", 2);
		else
		{
			old = MemoryContextSwitchTo(r->row_cxt);
			append_escaped(&r->out, OutputFunctionCall(&tr->out_fns[c], r->values[c]));
			MemoryContextSwitchTo(old);
		}
	}
	appendStringInfoChar(&r->out, '\n');
}

/*
 * transform_read: the TributaryCopyReader of the target's COPY: the next
 * block of target rows, or -1 at the end.
 */
static int
transform_read(void *arg, char **buf)
{
	TransformReader *r = (TransformReader *) arg;

	resetStringInfo(&r->out);
	while (r->out.len < TRANSFORM_BLOCK_BYTES)
	{
		char	   *start = r->pending.data + r->pending_pos;
		char	   *nl = memchr(start, '\n', r->pending.len - r->pending_pos);
		char	   *block;
		int			n;

		if (nl != NULL)
		{
			transform_line(r, start, nl - start);
			r->pending_pos = nl + 1 - r->pending.data;
			continue;
		}
		if (r->eof)
		{
			/* a last row without its newline */
			if (r->pending.len > r->pending_pos)
				transform_line(r, start, r->pending.len - r->pending_pos);
			r->pending_pos = r->pending.len;
			break;
		}
		/* keep the unconsumed tail, then read more */
		if (r->pending_pos > 0)
		{
			memmove(r->pending.data, start, r->pending.len - r->pending_pos);
			r->pending.len -= r->pending_pos;
			r->pending.data[r->pending.len] = '\0';
			r->pending_pos = 0;
		}
		n = r->inner(r->inner_arg, &block);
		if (n < 0)
			r->eof = true;
		else
			appendBinaryStringInfo(&r->pending, block, n);
	}
	if (r->out.len == 0)
		return -1;
	*buf = r->out.data;
	return r->out.len;
}

/*
 * tributary_copy_transformed: COPY a chunk of a table with transforms into
 * its target: the rows inner hands out (COPY text of t's read columns)
 * are filtered and computed on the way.  Returns the rows written.
 */
uint64
tributary_copy_transformed(TributaryTable *t, TributaryCopyReader inner, void *inner_arg)
{
	TransformReader r;

	memset(&r, 0, sizeof(r));
	r.inner = inner;
	r.inner_arg = inner_arg;
	r.tr = tributary_transform_compile(t);
	tributary_transform_set_meta(NULL);
	/* what tributary.source_*() say of a snapshot row */
	r.meta.table = psprintf("%s.%s", t->source_nsp, t->source_rel);
	r.meta.op = 'r';
	r.meta.has_commit = false;
	initStringInfo(&r.pending);
	initStringInfo(&r.out);
	r.raw = palloc(sizeof(char *) * Max(t->nread, 1));
	r.raw_len = palloc(sizeof(int) * Max(t->nread, 1));
	r.decoded = palloc0(sizeof(char *) * Max(t->nread, 1));
	r.values = palloc0(sizeof(Datum) * Max(t->ncolumns, 1));
	r.nulls = palloc0(sizeof(bool) * Max(t->ncolumns, 1));
	r.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary transform row",
									  ALLOCSET_DEFAULT_SIZES);
	return tributary_copy_into(t, transform_read, &r, false);
}
