/*-------------------------------------------------------------------------
 *
 * tributary_decoder.c
 *		The tributary_decoder logical decoding output plugin, installed on
 *		PostgreSQL sources.  It turns decoded changes into the compact
 *		binary protocol of proto.h.
 *
 * Options (START_REPLICATION ... (name 'value', ...) or the options of
 * pg_logical_slot_get_changes):
 *	proto_version	protocol version the client reads (1 or 2; default 1);
 *					with 2, consecutive messages of a transaction share
 *					one write (CopyData) of up to TRIB_BATCH_BYTES, which
 *					saves the walsender a send() per change
 *	tables			comma-separated schema.table list; default all tables
 *	binary			send values with the types' send functions (default
 *					false: text output functions)
 *	streaming		stream large in-progress transactions (default false)
 *	messages		pass logical messages on (default true)
 *	format			'binary' (default) or 'text': a readable rendering of
 *					the same messages, for tests and debugging
 * Unknown options and bad values are errors.
 *
 * Full row images: an UPDATE's unchanged TOASTed values are not in the WAL
 * record of the new tuple; they are taken from the old tuple, which a
 * table with REPLICA IDENTITY FULL logs whole.  Only a table without it
 * makes the plugin send the 'u' (unchanged) kind.
 *
 * Text values do not depend on the session's settings: the plugin pins
 * DateStyle ISO, IntervalStyle postgres, TimeZone UTC, extra_float_digits
 * 3 and bytea_output hex for the decoding session and restores them at
 * shutdown.
 *
 * A transaction is sent only if it has changes or messages for the client
 * (BEGIN goes out with its first one); an empty one just reports progress.
 *
 * A RELATION message precedes the first change of a relation in a decoding
 * session, again after the relation changed (relcache invalidation), and
 * in every streamed block that touches it.  Which relations are sent, and
 * a partition's changes as its named ancestor's, is decoder_rels.c's.
 *
 * Text values and names are converted to the client's encoding
 * (client_encoding; pg_tributary asks for its database's).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/varlena.h"

#include "decoder/decoder_int.h"
#include "decoder/proto.h"
#include "decoder/proto_text.h"

PG_MODULE_MAGIC;

extern PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

/*
 * parse_bool_option: a boolean plugin option.
 */
static bool
parse_bool_option(DefElem *elem)
{
	bool		result;

	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not parse value \"%s\" for tributary_decoder option \"%s\"",
						strVal(elem->arg), elem->defname),
				 errdetail("Expected a boolean.")));
	return result;
}

/*
 * pin_output_settings: the output functions' settings, fixed so that text
 * values mean the same on every source and round-trip exactly.
 */
static void
pin_output_settings(DecoderData *data)
{
	static const char *const settings[][2] = {
		{"datestyle", "ISO, YMD"},
		{"intervalstyle", "postgres"},
		{"timezone", "UTC"},
		{"extra_float_digits", "3"},
		{"bytea_output", "hex"},
	};

	/*
	 * Inside a transaction (the SQL functions) the settings are restored
	 * at shutdown; a walsender decodes outside transactions, for its own
	 * session only, so there they are simply set.
	 */
	data->guc_nestlevel = IsTransactionState() ? NewGUCNestLevel() : 0;
	for (int i = 0; i < lengthof(settings); i++)
		(void) set_config_option(settings[i][0], settings[i][1], PGC_USERSET, PGC_S_SESSION,
								 data->guc_nestlevel > 0 ? GUC_ACTION_SAVE : GUC_ACTION_SET,
								 true, 0, false);
}

/*
 * dec_startup: parse options and set up the session's state.
 */
static void
dec_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	DecoderData *data = palloc0(sizeof(DecoderData));
	static bool callback_registered = false;
	ListCell   *lc;
	HASHCTL		hctl;

	data->change_cxt = AllocSetContextCreate(ctx->context, "tributary_decoder change",
											 ALLOCSET_DEFAULT_SIZES);
	data->cache_cxt = AllocSetContextCreate(ctx->context, "tributary_decoder cache",
											ALLOCSET_DEFAULT_SIZES);
	data->messages = true;

	foreach(lc, ctx->output_plugin_options)
	{
		DefElem    *elem = (DefElem *) lfirst(lc);
		const char *val = elem->arg ? strVal(elem->arg) : NULL;

		if (strcmp(elem->defname, "proto_version") == 0)
		{
			int			version = val ? pg_strtoint32(val) : -1;

			if (version < TRIB_PROTO_MIN_VERSION || version > TRIB_PROTO_VERSION)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("client asked for tributary_decoder protocol version %s, the server supports versions %d to %d",
								val ? val : "(none)", TRIB_PROTO_MIN_VERSION, TRIB_PROTO_VERSION)));
			data->batch = (version >= 2);
		}
		else if (strcmp(elem->defname, "tables") == 0)
			data->tables = val ? dec_parse_tables_option(val) : NIL;
		else if (strcmp(elem->defname, "binary") == 0)
			data->binary = parse_bool_option(elem);
		else if (strcmp(elem->defname, "streaming") == 0)
			data->streaming = parse_bool_option(elem);
		else if (strcmp(elem->defname, "messages") == 0)
			data->messages = parse_bool_option(elem);
		else if (strcmp(elem->defname, "format") == 0)
		{
			if (val && strcmp(val, "text") == 0)
				data->text_format = true;
			else if (val && strcmp(val, "binary") == 0)
				data->text_format = false;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for tributary_decoder option \"format\"",
								val ? val : ""),
						 errdetail("Valid values are binary and text.")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is not recognized by tributary_decoder", elem->defname),
					 errdetail("Valid options are: proto_version, tables, binary, streaming, messages, format.")));
	}

	if (data->text_format)
		data->batch = false;	/* one readable row per message */
	if (!is_init)
		pin_output_settings(data);
	opt->output_type = data->text_format ? OUTPUT_PLUGIN_TEXTUAL_OUTPUT : OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;
	ctx->streaming &= data->streaming;
	ctx->output_plugin_private = data;

	hctl.keysize = sizeof(Oid);
	hctl.entrysize = sizeof(RelEntry);
	hctl.hcxt = data->cache_cxt;
	data->relcache = hash_create("tributary_decoder relations", 128, &hctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	dec_active_relcache = data->relcache;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(dec_invalidate, (Datum) 0);
		callback_registered = true;
	}
	if (data->text_format)
	{
		MemoryContext old = MemoryContextSwitchTo(data->cache_cxt);

		initStringInfo(&data->scratch);
		trib_text_init(&data->text, data->cache_cxt);
		MemoryContextSwitchTo(old);
	}
}

/*
 * dec_shutdown: forget the session's relation cache.
 */
static void
dec_shutdown(LogicalDecodingContext *ctx)
{
	DecoderData *data = ctx->output_plugin_private;

	if (data && dec_active_relcache == data->relcache)
		dec_active_relcache = NULL;
	if (data && data->guc_nestlevel > 0)
		AtEOXact_GUC(true, data->guc_nestlevel);
}

/*
 * begin_message / end_message: frame one protocol message.  In text format
 * the message goes to a scratch buffer and is rendered from there.  In
 * batch mode (protocol version 2) a message is appended to the write
 * already prepared, if any, and the write is sent by a message that ends
 * a unit the client acts on (flush: COMMIT, STREAM STOP/COMMIT/ABORT, a
 * non-transactional MESSAGE) or once it holds TRIB_BATCH_BYTES.  Batched
 * writes are prepared as not-last, so the walsender puts no position in
 * their header; the client takes positions from COMMIT messages.
 */
static StringInfo
begin_message(LogicalDecodingContext *ctx, bool last_write)
{
	DecoderData *data = ctx->output_plugin_private;

	if (data->batch)
	{
		if (!data->batch_open)
		{
			OutputPluginPrepareWrite(ctx, false);
			data->batch_open = true;
		}
		return ctx->out;
	}
	OutputPluginPrepareWrite(ctx, last_write);
	if (data->text_format)
	{
		resetStringInfo(&data->scratch);
		return &data->scratch;
	}
	return ctx->out;
}

static void
end_message(LogicalDecodingContext *ctx, bool last_write, bool flush)
{
	DecoderData *data = ctx->output_plugin_private;

	if (data->batch)
	{
		if (flush || ctx->out->len >= TRIB_BATCH_BYTES)
		{
			OutputPluginWrite(ctx, last_write);
			data->batch_open = false;
		}
		return;
	}
	if (data->text_format)
	{
		data->scratch.cursor = 0;
		trib_text_render(&data->text, &data->scratch, ctx->out);
	}
	OutputPluginWrite(ctx, last_write);
}

/*
 * attr_is_sent: dropped and generated columns are not part of the stream.
 */
static inline bool
attr_is_sent(Form_pg_attribute att)
{
	return !att->attisdropped && !att->attgenerated;
}

/*
 * to_client: a name or a text value in the client's encoding, as the
 * session's client_encoding asks (pg_tributary sets it to its database's
 * encoding; send functions convert text the same way).  The string itself
 * when no conversion is needed; an error for a character the client's
 * encoding cannot hold.
 */
static char *
to_client(const char *s)
{
	return pg_server_to_client(s, strlen(s));
}

/*
 * send_relation: the RELATION message of a relation.  Key columns are the
 * primary key's (or the replica identity index's when there is no primary
 * key).
 */
static void
send_relation(LogicalDecodingContext *ctx, Relation relation, TransactionId stream_xid)
{
	TupleDesc	desc = RelationGetDescr(relation);
	Bitmapset  *keys = RelationGetIndexAttrBitmap(relation, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	TribRelation rel;
	StringInfo	out;

	if (bms_is_empty(keys))
		keys = RelationGetIndexAttrBitmap(relation, INDEX_ATTR_BITMAP_IDENTITY_KEY);

	rel.relid = RelationGetRelid(relation);
	rel.nspname = to_client(get_namespace_name(RelationGetNamespace(relation)));
	rel.relname = to_client(RelationGetRelationName(relation));
	rel.replident = relation->rd_rel->relreplident;
	rel.natts = 0;
	rel.attrs = palloc(sizeof(TribAttribute) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		TribAttribute *a;

		if (!attr_is_sent(att))
			continue;
		a = &rel.attrs[rel.natts++];
		a->name = to_client(NameStr(att->attname));
		a->typoid = att->atttypid;
		a->typmod = att->atttypmod;
		a->flags = bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber, keys) ?
			TRIB_ATTR_KEY : 0;
	}
	out = begin_message(ctx, false);
	trib_write_relation(out, stream_xid, &rel);
	end_message(ctx, false, false);
}

/*
 * maybe_send_relation: send the RELATION message if the client may not
 * have it: not yet sent this session, changed since, or inside a streamed
 * block (which may be discarded by an abort).
 */
static void
maybe_send_relation(LogicalDecodingContext *ctx, RelEntry *entry, Relation relation,
					TransactionId stream_xid)
{
	DecoderData *data = ctx->output_plugin_private;

	if (data->in_streaming)
	{
		send_relation(ctx, relation, stream_xid);
		return;
	}
	if (entry->schema_sent)
		return;
	send_relation(ctx, relation, InvalidTransactionId);
	entry->schema_sent = true;
}

/*
 * write_tuple: one tuple, unchanged TOASTed values filled from fill_from.
 */
static void
write_tuple(StringInfo out, DecoderData *data, RelEntry *entry, TupleDesc desc, char tag,
			HeapTuple tuple, HeapTuple fill_from)
{
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	Datum	   *old_values = NULL;
	bool	   *old_nulls = NULL;
	int			nsent = 0;

	heap_deform_tuple(tuple, desc, values, nulls);
	if (fill_from)
	{
		old_values = palloc(sizeof(Datum) * desc->natts);
		old_nulls = palloc(sizeof(bool) * desc->natts);
		heap_deform_tuple(fill_from, desc, old_values, old_nulls);
	}
	for (int i = 0; i < desc->natts; i++)
		if (attr_is_sent(TupleDescAttr(desc, i)))
			nsent++;

	trib_write_tuple_header(out, tag, nsent);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Datum		value = values[i];

		if (!attr_is_sent(att))
			continue;
		if (nulls[i])
		{
			trib_write_value(out, TRIB_VALUE_NULL, NULL, 0);
			continue;
		}
		if (att->attlen == -1 && VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(value)))
		{
			if (old_values && !old_nulls[i] &&
				!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(old_values[i])))
				value = old_values[i];
			else
			{
				trib_write_value(out, TRIB_VALUE_UNCHANGED, NULL, 0);
				continue;
			}
		}
		if (data->binary)
		{
			bytea	   *b = SendFunctionCall(&entry->out_fns[i], value);

			trib_write_value(out, TRIB_VALUE_BINARY, VARDATA(b), VARSIZE(b) - VARHDRSZ);
		}
		else
		{
			char	   *s = to_client(OutputFunctionCall(&entry->out_fns[i], value));

			trib_write_value(out, TRIB_VALUE_TEXT, s, strlen(s));
		}
	}
}

/*
 * stream_xid_of: the xid that changes carry inside a streamed block.
 */
static inline TransactionId
stream_xid_of(DecoderData *data, ReorderBufferTXN *txn)
{
	return data->in_streaming ? txn->xid : InvalidTransactionId;
}

/*
 * dec_begin: a transaction sent at commit begins.  Its BEGIN is written
 * with its first change (send_begin): transactions with nothing for the
 * client are not sent at all.
 */
static void
dec_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	DecoderData *data = ctx->output_plugin_private;

	data->xact_begun = false;
}

/*
 * send_begin: the BEGIN of the current (not streamed) transaction, before
 * its first message.
 */
static void
send_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	DecoderData *data = ctx->output_plugin_private;
	StringInfo	out;

	if (data->in_streaming || data->xact_begun || txn == NULL)
		return;
	data->xact_begun = true;
	out = begin_message(ctx, true);
	trib_write_begin(out, txn->xid, txn->final_lsn, txn->xact_time.commit_time);
	end_message(ctx, true, false);
}

/*
 * dec_commit: COMMIT with commit and end positions, for a transaction that
 * sent anything.  An empty one only reports progress, so that the client
 * and the slot still move past it (keepalives carry the position).
 */
static void
dec_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	DecoderData *data = ctx->output_plugin_private;
	StringInfo	out;

	if (!data->xact_begun)
	{
		OutputPluginUpdateProgress(ctx, true);
		return;
	}
	OutputPluginUpdateProgress(ctx, false);
	out = begin_message(ctx, true);
	trib_write_commit(out, commit_lsn, txn->end_lsn, txn->xact_time.commit_time);
	end_message(ctx, true, true);
	data->xact_begun = false;
}

/*
 * dec_change: INSERT, UPDATE or DELETE of an included relation.
 */
static void
dec_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		   Relation relation, ReorderBufferChange *change)
{
	DecoderData *data = ctx->output_plugin_private;
	RelEntry   *entry = dec_get_rel_entry(data, relation);
	TupleDesc	desc;
	TransactionId sxid = stream_xid_of(data, txn);
	MemoryContext old;
	HeapTuple	oldtuple;
	HeapTuple	newtuple;
	StringInfo	out;
	Relation	ancestor = NULL;

	if (!entry->included)
		return;

	old = MemoryContextSwitchTo(data->change_cxt);
	oldtuple = change->data.tp.oldtuple ? &change->data.tp.oldtuple->tuple : NULL;
	newtuple = change->data.tp.newtuple ? &change->data.tp.newtuple->tuple : NULL;
	if (OidIsValid(entry->publish_as))
	{
		/* a partition's change, sent as its named ancestor's */
		TupleConversionMap *map = entry->map;

		ancestor = RelationIdGetRelation(entry->publish_as);
		if (!RelationIsValid(ancestor))
			elog(ERROR, "could not open relation with OID %u", entry->publish_as);
		if (map && oldtuple)
			oldtuple = execute_attr_map_tuple(oldtuple, map);
		if (map && newtuple)
			newtuple = execute_attr_map_tuple(newtuple, map);
		relation = ancestor;
		entry = dec_get_rel_entry(data, relation);
	}
	desc = RelationGetDescr(relation);
	send_begin(ctx, txn);
	maybe_send_relation(ctx, entry, relation, sxid);

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			if (newtuple == NULL)
				break;
			out = begin_message(ctx, true);
			trib_write_change(out, TRIB_MSG_INSERT, sxid, RelationGetRelid(relation));
			write_tuple(out, data, entry, desc, 'N', newtuple, NULL);
			end_message(ctx, true, false);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			if (newtuple == NULL)
				break;
			out = begin_message(ctx, true);
			trib_write_change(out, TRIB_MSG_UPDATE, sxid, RelationGetRelid(relation));
			if (oldtuple)
				write_tuple(out, data, entry, desc, 'O', oldtuple, NULL);
			write_tuple(out, data, entry, desc, 'N', newtuple, oldtuple);
			end_message(ctx, true, false);
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			if (oldtuple == NULL)
				break;			/* REPLICA IDENTITY NOTHING: nothing to identify */
			out = begin_message(ctx, true);
			trib_write_change(out, TRIB_MSG_DELETE, sxid, RelationGetRelid(relation));
			write_tuple(out, data, entry, desc, 'O', oldtuple, NULL);
			end_message(ctx, true, false);
			break;
		default:
			Assert(false);
	}
	if (ancestor)
		RelationClose(ancestor);
	MemoryContextSwitchTo(old);
	MemoryContextReset(data->change_cxt);
}

/*
 * dec_truncate: TRUNCATE of the included relations among those truncated.
 */
static void
dec_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			 int nrelations, Relation relations[], ReorderBufferChange *change)
{
	DecoderData *data = ctx->output_plugin_private;
	TransactionId sxid = stream_xid_of(data, txn);
	MemoryContext old = MemoryContextSwitchTo(data->change_cxt);
	Oid		   *relids = palloc(sizeof(Oid) * nrelations);
	Oid		   *partial = palloc(sizeof(Oid) * nrelations);
	int			n = 0;
	int			npartial = 0;
	uint8		flags = 0;
	StringInfo	out;

	for (int i = 0; i < nrelations; i++)
	{
		RelEntry   *entry = dec_get_rel_entry(data, relations[i]);
		bool		covered = false;

		if (!entry->included)
			continue;
		if (!OidIsValid(entry->publish_as))
		{
			send_begin(ctx, txn);
			maybe_send_relation(ctx, entry, relations[i], sxid);
			relids[n++] = RelationGetRelid(relations[i]);
			continue;
		}
		/* a partition: nothing to say when its ancestor is emptied too */
		for (int k = 0; k < nrelations; k++)
			if (RelationGetRelid(relations[k]) == entry->publish_as)
				covered = true;
		for (int k = 0; k < npartial; k++)
			if (partial[k] == entry->publish_as)
				covered = true;
		if (!covered)
		{
			Relation	ancestor = RelationIdGetRelation(entry->publish_as);

			if (!RelationIsValid(ancestor))
				elog(ERROR, "could not open relation with OID %u", entry->publish_as);
			send_begin(ctx, txn);
			maybe_send_relation(ctx, dec_get_rel_entry(data, ancestor), ancestor, sxid);
			RelationClose(ancestor);
			partial[npartial++] = entry->publish_as;
		}
	}
	if (change->data.truncate.cascade)
		flags |= TRIB_TRUNCATE_CASCADE;
	if (change->data.truncate.restart_seqs)
		flags |= TRIB_TRUNCATE_RESTART;
	if (n > 0)
	{
		out = begin_message(ctx, true);
		trib_write_truncate(out, sxid, flags, n, relids);
		end_message(ctx, true, false);
	}
	if (npartial > 0)
	{
		/* only some partitions of these tables were emptied */
		out = begin_message(ctx, true);
		trib_write_truncate(out, sxid, flags | TRIB_TRUNCATE_PARTITION, npartial, partial);
		end_message(ctx, true, false);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(data->change_cxt);
}

/*
 * dec_message: a logical message (DDL capture and user messages).
 */
static void
dec_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr lsn,
			bool transactional, const char *prefix, Size sz, const char *message)
{
	DecoderData *data = ctx->output_plugin_private;
	TransactionId sxid = InvalidTransactionId;
	StringInfo	out;

	if (!data->messages)
		return;
	if (data->in_streaming && transactional && txn)
		sxid = txn->xid;
	if (transactional)
		send_begin(ctx, txn);
	out = begin_message(ctx, true);
	trib_write_message(out, sxid, transactional, lsn, prefix, sz, message);
	end_message(ctx, true, !transactional);
}

/*
 * dec_stream_start: a block of a large transaction, before it commits.
 */
static void
dec_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	DecoderData *data = ctx->output_plugin_private;
	StringInfo	out = begin_message(ctx, true);

	trib_write_stream_start(out, txn->xid, !rbtxn_is_streamed(txn));
	end_message(ctx, true, false);
	data->in_streaming = true;
}

/*
 * dec_stream_stop: end of a streamed block.
 */
static void
dec_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	DecoderData *data = ctx->output_plugin_private;
	StringInfo	out = begin_message(ctx, true);

	trib_write_stream_stop(out);
	end_message(ctx, true, true);
	data->in_streaming = false;
}

/*
 * dec_stream_abort: a streamed transaction or one of its subtransactions
 * aborted; the client discards its changes.
 */
static void
dec_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr abort_lsn)
{
	ReorderBufferTXN *toptxn = txn->toptxn ? txn->toptxn : txn;
	StringInfo	out = begin_message(ctx, true);

	trib_write_stream_abort(out, toptxn->xid, txn->xid);
	end_message(ctx, true, true);
}

/*
 * dec_stream_commit: a streamed transaction committed.
 */
static void
dec_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	StringInfo	out;

	OutputPluginUpdateProgress(ctx, false);
	out = begin_message(ctx, true);
	trib_write_stream_commit(out, txn->xid, commit_lsn, txn->end_lsn, txn->xact_time.commit_time);
	end_message(ctx, true, true);
}

/*
 * _PG_output_plugin_init: the plugin's callbacks.
 */
void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = dec_startup;
	cb->begin_cb = dec_begin;
	cb->change_cb = dec_change;
	cb->truncate_cb = dec_truncate;
	cb->commit_cb = dec_commit;
	cb->message_cb = dec_message;
	cb->shutdown_cb = dec_shutdown;
	cb->stream_start_cb = dec_stream_start;
	cb->stream_stop_cb = dec_stream_stop;
	cb->stream_abort_cb = dec_stream_abort;
	cb->stream_commit_cb = dec_stream_commit;
	cb->stream_change_cb = dec_change;
	cb->stream_message_cb = dec_message;
	cb->stream_truncate_cb = dec_truncate;
}
