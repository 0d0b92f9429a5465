/*-------------------------------------------------------------------------
 *
 * stream_fuzz.c
 *		libFuzzer target for the two readers of PostgreSQL change streams:
 *		the tributary_decoder protocol (src/decoder/proto.c: one message,
 *		a batch of messages, inside or outside a streamed block) and
 *		PostgreSQL's pgoutput (src/source/pgoutput_read.c, protocol
 *		versions 1 to 4).
 *
 * Input: one byte (bits 0-1: 0 one tributary_decoder message, 1 a batch of
 * them, 2 one pgoutput message; bit 2: inside a streamed block), then the
 * message bytes.  The readers are backend code: they are compiled against
 * the server headers, and this file provides what they call of the
 * backend: palloc and friends (fuzz_alloc.c, which frees everything after
 * each input, as a memory context would), ereport (an ERROR jumps back
 * here, as the worker's error handling would end the message), and
 * libpq/pqformat.c's message readers, written after the backend's own
 * bounds checks.  A message the readers accept is checked against what
 * stream.c relies on (a MESSAGE has a prefix, a RELATION its names, a
 * change its tuples: a reader that hands out less aborts) and walked value
 * by value, so a length that points past the buffer is caught by
 * AddressSanitizer.
 *
 * Build and run: make -C fuzz run (see fuzz/Makefile).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>

#include "libpq/pqformat.h"

#include "decoder/proto.h"
#include "source/pgoutput_read.h"

#include "fuzz_alloc.h"

static sigjmp_buf on_error;
static int	error_level;

/* enlargeStringInfo: room for needed more bytes (the writers' inline helpers call it). */
void
enlargeStringInfo(StringInfo str, int needed)
{
	int			newlen = str->maxlen ? str->maxlen : 64;

	while (needed > newlen - str->len - 1)
		newlen *= 2;
	if (newlen > str->maxlen)
	{
		str->data = repalloc(str->data, newlen);
		str->maxlen = newlen;
	}
}

/* pq_sendbytes: append bytes (proto.c's writers are linked, not fuzzed) */
void
pq_sendbytes(StringInfo buf, const char *data, int datalen)
{
	enlargeStringInfo(buf, datalen);
	memcpy(buf->data + buf->len, data, datalen);
	buf->len += datalen;
	buf->data[buf->len] = '\0';
}

/* pq_sendstring: append a string and its NUL */
void
pq_sendstring(StringInfo buf, const char *str)
{
	pq_sendbytes(buf, str, strlen(str) + 1);
}

/* ereport's entry: every level is reported; the level decides errfinish's exit. */
bool
errstart(int elevel, const char *domain)
{
	error_level = elevel;
	return true;
}

/* errstart_cold: as errstart (ERROR and above). */
bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

/* errfinish: an ERROR ends the message: back to the fuzzer's loop. */
void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (error_level >= ERROR)
		siglongjmp(on_error, 1);
}

/* the message parts of ereport: not kept */
int
errcode(int sqlerrcode)
{
	return 0;
}

int
errmsg(const char *fmt,...)
{
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	return 0;
}

int
errdetail(const char *fmt,...)
{
	return 0;
}

int
errhint(const char *fmt,...)
{
	return 0;
}

/* pq_copymsgbytes: as the backend's, refusing to read past the message */
void
pq_copymsgbytes(StringInfo msg, char *buf, int datalen)
{
	if (datalen < 0 || datalen > (msg->len - msg->cursor))
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
	memcpy(buf, &msg->data[msg->cursor], datalen);
	msg->cursor += datalen;
}

/* pq_getmsgbyte: as the backend's */
int
pq_getmsgbyte(StringInfo msg)
{
	if (msg->cursor >= msg->len)
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("no data left in message")));
	return (unsigned char) msg->data[msg->cursor++];
}

/* pq_getmsgint: as the backend's (1, 2 or 4 bytes, network order) */
unsigned int
pq_getmsgint(StringInfo msg, int b)
{
	unsigned char buf[4];
	unsigned int result = 0;

	if (b != 1 && b != 2 && b != 4)
		abort();
	pq_copymsgbytes(msg, (char *) buf, b);
	for (int i = 0; i < b; i++)
		result = (result << 8) | buf[i];
	return result;
}

/* pq_getmsgint64: as the backend's */
int64
pq_getmsgint64(StringInfo msg)
{
	unsigned char buf[8];
	uint64		result = 0;

	pq_copymsgbytes(msg, (char *) buf, 8);
	for (int i = 0; i < 8; i++)
		result = (result << 8) | buf[i];
	return (int64) result;
}

/* pq_getmsgbytes: as the backend's */
const char *
pq_getmsgbytes(StringInfo msg, int datalen)
{
	const char *result;

	if (datalen < 0 || datalen > (msg->len - msg->cursor))
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
	result = &msg->data[msg->cursor];
	msg->cursor += datalen;
	return result;
}

/* pq_getmsgstring: as the backend's (the buffer ends with a NUL past len) */
const char *
pq_getmsgstring(StringInfo msg)
{
	char	   *str = &msg->data[msg->cursor];
	int			slen = strlen(str);

	if (msg->cursor + slen >= msg->len)
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("invalid string in message")));
	msg->cursor += slen + 1;
	return str;
}

static volatile unsigned long sink;

/*
 * walk_tuple / walk: touch every byte the reader says a message holds, as
 * the apply engine would.
 */
static void
walk_tuple(const TribTuple *t)
{
	for (int i = 0; i < t->natts; i++)
		for (uint32 k = 0; k < t->values[i].len; k++)
			sink += (unsigned char) t->values[i].data[k];
}

static void
walk(const TribMessage *m)
{
	/* the readers' contract with stream.c: what a kind has is there */
	if (m->type == TRIB_MSG_MESSAGE && (m->prefix == NULL || (m->content_len > 0 && m->content == NULL)))
		abort();
	if (m->type == TRIB_MSG_RELATION &&
		(m->relation.nspname == NULL || m->relation.relname == NULL ||
		 (m->relation.natts > 0 && m->relation.attrs == NULL)))
		abort();
	if ((m->type == TRIB_MSG_INSERT || m->type == TRIB_MSG_UPDATE) && m->newtuple.values == NULL)
		abort();
	if ((m->type == TRIB_MSG_DELETE) && (!m->has_old || m->oldtuple.values == NULL))
		abort();
	if (m->type == TRIB_MSG_TRUNCATE && (m->nrelids <= 0 || m->relids == NULL))
		abort();
	if (m->type == TRIB_MSG_RELATION)
	{
		sink += strlen(m->relation.nspname) + strlen(m->relation.relname);
		for (int i = 0; i < m->relation.natts; i++)
			sink += strlen(m->relation.attrs[i].name);
	}
	if (m->has_old)
		walk_tuple(&m->oldtuple);
	walk_tuple(&m->newtuple);
	for (int i = 0; i < m->nrelids; i++)
		sink += m->relids[i];
	if (m->prefix)
		sink += strlen(m->prefix);
	for (uint32 k = 0; k < m->content_len; k++)
		sink += (unsigned char) m->content[k];
}

/*
 * LLVMFuzzerTestOneInput: one input, read as the first byte says.
 */
int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	StringInfoData in;
	TribMessage msg;
	int			mode;
	bool		in_stream;

	if (size < 1 || size > 1024 * 1024)
		return 0;
	mode = data[0] & 3;
	in_stream = (data[0] & 4) != 0;
	/* a StringInfo holds a NUL after its data, as libpq's buffers do */
	in.data = palloc(size);
	memcpy(in.data, data + 1, size - 1);
	in.data[size - 1] = '\0';
	in.len = (int) size - 1;
	in.maxlen = (int) size;
	in.cursor = 0;

	if (sigsetjmp(on_error, 0) == 0)
	{
		switch (mode)
		{
			case 0:
				trib_read_message(&in, in_stream, &msg);
				walk(&msg);
				break;
			case 1:
				while (in.cursor < in.len)
				{
					trib_read_next_message(&in, in_stream, &msg);
					walk(&msg);
				}
				break;
			default:
				tributary_read_pgoutput(&in, in_stream, &msg);
				walk(&msg);
				break;
		}
	}
	fuzz_free_all();
	return 0;
}
