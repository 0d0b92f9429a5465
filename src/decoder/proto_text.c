/*-------------------------------------------------------------------------
 *
 * proto_text.c
 *		Text rendering of tributary_decoder messages, for pg_regress tests
 *		through pg_logical_slot_get_changes (plugin option format 'text').
 *
 * The plugin writes every message in the binary protocol first, then this
 * file reads it back with trib_read_message and prints it, so the tests
 * exercise writer and reader together.  Positions, xids and timestamps
 * change from run to run and are not printed.
 *
 *	BEGIN
 *	RELATION public.t (id integer key, v text) REPLICA IDENTITY f
 *	INSERT public.t: new: id=1 v='a'
 *	UPDATE public.t: old: id=1 v='a' new: id=1 v='b'
 *	DELETE public.t: old: id=1 v='b'
 *	TRUNCATE public.t, public.u CASCADE
 *	MESSAGE transactional prefix 'p': 'content'
 *	COMMIT
 *	STREAM START first | STREAM STOP | STREAM COMMIT | STREAM ABORT
 *
 * A binary value is printed through its type's receive and output
 * functions, so the output is the same with and without option binary.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "decoder/proto_text.h"

typedef struct TextRelEntry
{
	Oid			relid;			/* hash key */
	TribRelation rel;
} TextRelEntry;

/*
 * trib_text_init: set up the renderer's relation map in cxt.
 */
void
trib_text_init(TribTextState *state, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TextRelEntry);
	ctl.hcxt = cxt;
	state->relations = hash_create("tributary text relations", 64, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	state->cxt = cxt;
	state->in_stream = false;
}

/*
 * remember_relation: keep a deep copy of a RELATION message.
 */
static void
remember_relation(TribTextState *state, const TribRelation *rel)
{
	bool		found;
	TextRelEntry *e = hash_search(state->relations, &rel->relid, HASH_ENTER, &found);
	MemoryContext old = MemoryContextSwitchTo(state->cxt);

	e->rel = *rel;
	e->rel.nspname = pstrdup(rel->nspname);
	e->rel.relname = pstrdup(rel->relname);
	e->rel.attrs = palloc(sizeof(TribAttribute) * Max(rel->natts, 1));
	for (int i = 0; i < rel->natts; i++)
	{
		e->rel.attrs[i] = rel->attrs[i];
		e->rel.attrs[i].name = pstrdup(rel->attrs[i].name);
	}
	MemoryContextSwitchTo(old);
}

/*
 * lookup_relation: the relation a change refers to; it must have been sent.
 */
static TribRelation *
lookup_relation(TribTextState *state, Oid relid)
{
	TextRelEntry *e = hash_search(state->relations, &relid, HASH_FIND, NULL);

	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("tributary_decoder change for relation %u before its RELATION message", relid)));
	return &e->rel;
}

/*
 * render_value: one value as text.
 */
static void
render_value(StringInfo out, const TribAttribute *att, const TribValue *v)
{
	switch (v->kind)
	{
		case TRIB_VALUE_NULL:
			appendStringInfoString(out, "null");
			break;
		case TRIB_VALUE_UNCHANGED:
			appendStringInfoString(out, "unchanged-toast");
			break;
		case TRIB_VALUE_TEXT:
			{
				char	   *s = pnstrdup(v->data, v->len);

				appendStringInfoString(out, quote_literal_cstr(s));
				break;
			}
		case TRIB_VALUE_BINARY:
			{
				Oid			recv;
				Oid			ioparam;
				Oid			output;
				bool		varlena;
				StringInfoData buf;
				Datum		d;

				getTypeBinaryInputInfo(att->typoid, &recv, &ioparam);
				getTypeOutputInfo(att->typoid, &output, &varlena);
				buf.data = v->data;
				buf.len = v->len;
				buf.maxlen = v->len;
				buf.cursor = 0;
				d = OidReceiveFunctionCall(recv, &buf, ioparam, att->typmod);
				appendStringInfoString(out, quote_literal_cstr(OidOutputFunctionCall(output, d)));
				break;
			}
	}
}

/*
 * render_tuple: "label: col=value ..." for one tuple of a relation.
 */
static void
render_tuple(StringInfo out, const char *label, TribRelation *rel, TribTuple *tuple)
{
	if (tuple->natts != rel->natts)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("tributary_decoder tuple has %d values, relation %s.%s has %d columns",
						tuple->natts, rel->nspname, rel->relname, rel->natts)));
	appendStringInfo(out, " %s:", label);
	for (int i = 0; i < tuple->natts; i++)
	{
		appendStringInfo(out, " %s=", quote_identifier(rel->attrs[i].name));
		render_value(out, &rel->attrs[i], &tuple->values[i]);
	}
}

/*
 * trib_text_render: read one binary message from msgbuf, append its text
 * form to out.
 */
void
trib_text_render(TribTextState *state, StringInfo msgbuf, StringInfo out)
{
	TribMessage msg;
	TribRelation *rel;

	trib_read_message(msgbuf, state->in_stream, &msg);
	switch (msg.type)
	{
		case TRIB_MSG_BEGIN:
			appendStringInfoString(out, "BEGIN");
			break;
		case TRIB_MSG_COMMIT:
			appendStringInfoString(out, "COMMIT");
			break;
		case TRIB_MSG_RELATION:
			remember_relation(state, &msg.relation);
			appendStringInfo(out, "RELATION %s (",
							 quote_qualified_identifier(msg.relation.nspname, msg.relation.relname));
			for (int i = 0; i < msg.relation.natts; i++)
			{
				TribAttribute *a = &msg.relation.attrs[i];

				appendStringInfo(out, "%s%s %s%s", i > 0 ? ", " : "", quote_identifier(a->name),
								 format_type_with_typemod(a->typoid, a->typmod),
								 (a->flags & TRIB_ATTR_KEY) ? " key" : "");
			}
			appendStringInfo(out, ") REPLICA IDENTITY %c", msg.relation.replident);
			break;
		case TRIB_MSG_INSERT:
		case TRIB_MSG_UPDATE:
		case TRIB_MSG_DELETE:
			rel = lookup_relation(state, msg.relid);
			appendStringInfo(out, "%s %s:",
							 msg.type == TRIB_MSG_INSERT ? "INSERT" :
							 msg.type == TRIB_MSG_UPDATE ? "UPDATE" : "DELETE",
							 quote_qualified_identifier(rel->nspname, rel->relname));
			if (msg.has_old)
				render_tuple(out, "old", rel, &msg.oldtuple);
			if (msg.type != TRIB_MSG_DELETE)
				render_tuple(out, "new", rel, &msg.newtuple);
			break;
		case TRIB_MSG_TRUNCATE:
			appendStringInfoString(out, "TRUNCATE");
			for (int i = 0; i < msg.nrelids; i++)
			{
				rel = lookup_relation(state, msg.relids[i]);
				appendStringInfo(out, "%s %s", i > 0 ? "," : "",
								 quote_qualified_identifier(rel->nspname, rel->relname));
			}
			if (msg.flags & TRIB_TRUNCATE_CASCADE)
				appendStringInfoString(out, " CASCADE");
			if (msg.flags & TRIB_TRUNCATE_RESTART)
				appendStringInfoString(out, " RESTART IDENTITY");
			break;
		case TRIB_MSG_MESSAGE:
			appendStringInfo(out, "MESSAGE %s prefix %s: %s",
							 (msg.flags & TRIB_MESSAGE_TRANSACTIONAL) ? "transactional" : "non-transactional",
							 quote_literal_cstr(msg.prefix),
							 quote_literal_cstr(pnstrdup(msg.content, msg.content_len)));
			break;
		case TRIB_MSG_STREAM_START:
			state->in_stream = true;
			appendStringInfo(out, "STREAM START%s", msg.first_segment ? " first" : "");
			break;
		case TRIB_MSG_STREAM_STOP:
			state->in_stream = false;
			appendStringInfoString(out, "STREAM STOP");
			break;
		case TRIB_MSG_STREAM_COMMIT:
			appendStringInfoString(out, "STREAM COMMIT");
			break;
		case TRIB_MSG_STREAM_ABORT:
			appendStringInfo(out, "STREAM ABORT%s", msg.subxid != msg.xid ? " subtransaction" : "");
			break;
	}
}
