/*-------------------------------------------------------------------------
 *
 * binlog_render.c
 *		A text rendering of a sequence of binlog events, for the unit
 *		tests (tributary._binlog_render) and the fuzz target.
 *
 * The input is events back to back, as a binlog file holds them after its
 * magic bytes.  Each event is decoded with the connector's decoders and
 * printed on a line of its own; rows events print every row with every
 * value as the connector would pass it on (NULL, text, or bytea hex).
 * TABLE_MAP events are remembered by table id as the connector does, and
 * a TRANSACTION_PAYLOAD prints the events it holds, indented.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "source/binlog.h"

typedef struct RenderState
{
	BinlogFormat fmt;
	int			nmaps;
	int			maxmaps;
	BinlogTableMap *maps;
	StringInfo	rows_out;		/* if set: every row image also as a line of fields */
} RenderState;

static bool render_events(RenderState *rs, const uint8 *buf, size_t len, bool checksum,
						  const char *indent, StringInfo out, char **err);

/*
 * render_values: one row image's values, "(name='text', ...)".
 */
static void
render_values(const BinlogTableMap *map, const BinlogValue *values, StringInfo out)
{
	appendStringInfoChar(out, '(');
	for (int i = 0; i < map->ncolumns; i++)
	{
		if (i > 0)
			appendStringInfoString(out, ", ");
		if (map->columns[i].name)
			appendStringInfo(out, "%s=", map->columns[i].name);
		if (values[i].isnull)
			appendStringInfoString(out, "NULL");
		else
		{
			int			coll = map->columns[i].collation;
			bool		latin1 = (coll == 5 || coll == 8 || coll == 15 || coll == 31 ||
								  coll == 47 || coll == 48 || coll == 49 || coll == 94);

			appendStringInfoChar(out, '\'');
			/* bytes of a latin1 column in hex: the rendering stays UTF-8 */
			for (uint32 k = 0; k < values[i].len; k++)
			{
				unsigned char c = (unsigned char) values[i].data[k];

				if (latin1 && values[i].needs_charset && c >= 0x80)
					appendStringInfo(out, "\\x%02x", c);
				else
					appendStringInfoChar(out, (char) c);
			}
			appendStringInfoChar(out, '\'');
			if (values[i].is_zero_date)
				appendStringInfoString(out, "(zero)");
		}
	}
	appendStringInfoChar(out, ')');
}

/*
 * row_line: one row image as a line of tab-separated fields for
 * rows_out: the operation (I, D, U- before, U+ after), the table, then
 * each value, \N for NULL, bytes outside printable ASCII (and tab,
 * backslash) as \xNN.
 */
static void
row_line(StringInfo buf, const char *op, const BinlogTableMap *map, const BinlogValue *values)
{
	appendStringInfo(buf, "%s\t%s.%s", op, map->db, map->table);
	for (int i = 0; i < map->ncolumns; i++)
	{
		appendStringInfoChar(buf, '\t');
		if (values[i].isnull)
		{
			appendStringInfoString(buf, "\\N");
			continue;
		}
		for (uint32 k = 0; k < values[i].len; k++)
		{
			unsigned char c = (unsigned char) values[i].data[k];

			if (c < 0x20 || c >= 0x7f || c == '\\')
				appendStringInfo(buf, "\\x%02x", c);
			else
				appendStringInfoChar(buf, (char) c);
		}
	}
	appendStringInfoChar(buf, '\n');
}

/*
 * render_rows: a rows event, row by row.
 */
static bool
render_rows(RenderState *rs, const BinlogEvent *ev, StringInfo out, char **err)
{
	BinlogRows rows;
	BinlogTableMap *map = NULL;
	const uint8 *p;
	const uint8 *end;
	BinlogValue *before;
	BinlogValue *after;

	if (!bl_read_rows(ev, &rs->fmt, &rows, err))
		return false;
	for (int i = 0; i < rs->nmaps; i++)
		if (rs->maps[i].table_id == rows.table_id)
			map = &rs->maps[i];
	if (map == NULL)
	{
		*err = psprintf("rows event for table id " UINT64_FORMAT " without a TABLE_MAP", rows.table_id);
		return false;
	}
	if (rows.ncolumns != map->ncolumns)
	{
		*err = pstrdup("rows event and TABLE_MAP disagree on the column count");
		return false;
	}
	before = palloc(sizeof(BinlogValue) * map->ncolumns);
	after = palloc(sizeof(BinlogValue) * map->ncolumns);
	p = rows.rows;
	end = rows.rows + rows.rows_len;
	appendStringInfo(out, "%s %s.%s", rows.kind == 'I' ? "INSERT" : rows.kind == 'U' ? "UPDATE" : "DELETE",
					 map->db, map->table);
	while (p < end)
	{
		if (!bl_read_row(map, rows.present, &p, end, before, err))
			return false;
		appendStringInfoChar(out, ' ');
		render_values(map, before, out);
		if (rs->rows_out)
			row_line(rs->rows_out, rows.kind == 'I' ? "I" : rows.kind == 'U' ? "U-" : "D", map, before);
		if (rows.kind == 'U')
		{
			if (!bl_read_row(map, rows.present_after, &p, end, after, err))
				return false;
			appendStringInfoString(out, " -> ");
			render_values(map, after, out);
			if (rs->rows_out)
				row_line(rs->rows_out, "U+", map, after);
		}
	}
	return true;
}

/*
 * fail_v3: the error for a START_EVENT_V3 (binlog versions 1 and 3).
 */
static bool
fail_v3(char **err)
{
	*err = pstrdup("binlog versions before 4 (MySQL 4.x and older) are not supported: pg_tributary reads binlog version 4 (MySQL 5.0 and later, every MariaDB)");
	return false;
}

/*
 * render_event: one event on one line.
 */
static bool
render_event(RenderState *rs, const uint8 *buf, size_t len, bool checksum, const char *indent,
			 StringInfo out, char **err)
{
	BinlogEvent ev;

	rs->fmt.checksum = checksum;
	if (!bl_read_header(buf, len, &rs->fmt, &ev, err))
		return false;
	appendStringInfoString(out, indent);
	switch (ev.type)
	{
		case BL_START_V3:
			return fail_v3(err);
		case BL_FORMAT_DESCRIPTION:
			if (!bl_read_format(&ev, &rs->fmt, err))
				return false;
			rs->fmt.checksum = checksum;
			appendStringInfo(out, "FORMAT_DESCRIPTION v%d %s%s", rs->fmt.binlog_version,
							 rs->fmt.server_version, rs->fmt.mariadb ? " (MariaDB)" : "");
			break;
		case BL_ROTATE:
			{
				uint64		pos;
				char	   *file;

				if (!bl_read_rotate(&ev, &rs->fmt, &pos, &file, err))
					return false;
				appendStringInfo(out, "ROTATE %s:" UINT64_FORMAT "%s", file, pos,
								 ev.log_pos == 0 ? " (artificial)" : "");
				break;
			}
		case BL_QUERY:
		case BL_MARIA_QUERY_COMPRESSED:
			{
				char	   *db;
				char	   *query;

				static const char *const verbs[] = {"START", "END", "COMMIT", "ROLLBACK"};

				if (!bl_read_query(&ev, &rs->fmt, &db, &query, err))
					return false;
				appendStringInfo(out, "QUERY [%s] %s", db, query);
				for (int i = 0; i < lengthof(verbs); i++)
				{
					BinlogXid	xid;
					bool		one_phase;

					if (bl_parse_xa_statement(query, verbs[i], &xid, &one_phase))
						appendStringInfo(out, " (XA %s of %s%s)", verbs[i], bl_xid_text(&xid),
										 one_phase ? ", one phase" : "");
				}
				break;
			}
		case BL_XID:
			{
				uint64		xid;

				if (!bl_read_xid(&ev, &rs->fmt, &xid, err))
					return false;
				appendStringInfo(out, "XID " UINT64_FORMAT, xid);
				break;
			}
		case BL_MARIA_GTID:
		case BL_GTID:
		case BL_ANONYMOUS_GTID:
		case BL_GTID_TAGGED:
			{
				char	   *gtid;
				uint8		flags;

				BinlogXid	xid;
				bool		has_xid;

				if (!bl_read_gtid(&ev, &rs->fmt, &gtid, &flags, err) ||
					!bl_read_gtid_xa(&ev, &xid, &has_xid, err))
					return false;
				appendStringInfo(out, "GTID %s%s", gtid ? gtid : "anonymous",
								 (ev.type == BL_MARIA_GTID && (flags & BL_MARIA_GTID_STANDALONE)) ? " standalone" : "");
				if (has_xid)
					appendStringInfo(out, " XA %s of %s",
									 (flags & BL_MARIA_GTID_PREPARED_XA) ? "prepare" : "completion",
									 bl_xid_text(&xid));
				break;
			}
		case BL_XA_PREPARE:
			{
				BinlogXid	xid;
				bool		one_phase;

				if (!bl_read_xa_prepare(&ev, &rs->fmt, &xid, &one_phase, err))
					return false;
				appendStringInfo(out, "XA_PREPARE %s%s", bl_xid_text(&xid), one_phase ? " one phase" : "");
				break;
			}
		case BL_TABLE_MAP:
			{
				BinlogTableMap map;
				int			slot = -1;

				if (!bl_read_table_map(&ev, &rs->fmt, &map, err))
					return false;
				for (int i = 0; i < rs->nmaps; i++)
					if (rs->maps[i].table_id == map.table_id)
						slot = i;
				if (slot < 0)
				{
					if (rs->nmaps == rs->maxmaps)
					{
						rs->maxmaps = rs->maxmaps ? 2 * rs->maxmaps : 16;
						rs->maps = rs->maps ? repalloc(rs->maps, sizeof(BinlogTableMap) * rs->maxmaps)
							: palloc(sizeof(BinlogTableMap) * rs->maxmaps);
					}
					slot = rs->nmaps++;
				}
				rs->maps[slot] = map;
				appendStringInfo(out, "TABLE_MAP " UINT64_FORMAT " %s.%s", map.table_id, map.db, map.table);
				for (int i = 0; i < map.ncolumns; i++)
				{
					BinlogColumn *c = &map.columns[i];

					appendStringInfo(out, "%s%s %s%s", i == 0 ? " (" : ", ", c->name ? c->name : "?",
									 bl_type_name(c->type), c->is_unsigned ? " UNSIGNED" : "");
					if (c->collation)
						appendStringInfo(out, " coll %d", c->collation);
					for (int k = 0; k < c->nlabels; k++)
						appendStringInfo(out, "%s%s", k == 0 ? " {" : ",", c->labels[k]);
					if (c->nlabels > 0)
						appendStringInfoChar(out, '}');
				}
				appendStringInfoChar(out, ')');
				break;
			}
		case BL_TRANSACTION_PAYLOAD:
			{
				char	   *events;
				size_t		elen;
				BinlogFormat saved = rs->fmt;
				bool		ok;

				if (!bl_read_payload(&ev, &rs->fmt, &events, &elen, err))
					return false;
				appendStringInfo(out, "TRANSACTION_PAYLOAD %zu bytes\n", elen);
				ok = render_events(rs, (const uint8 *) events, elen, false, "  ", out, err);
				rs->fmt = saved;
				/* the nested events ended with a newline */
				if (out->len > 0 && out->data[out->len - 1] == '\n')
					out->data[--out->len] = '\0';
				if (!ok)
					return false;
				break;
			}
		case BL_PREVIOUS_GTIDS:
			{
				BinlogGtidSet set;

				if (!bl_read_previous_gtids(&ev, &rs->fmt, &set, err))
					return false;
				appendStringInfoString(out, "PREVIOUS_GTIDS ");
				bl_gtid_set_to_text(&set, out);
				break;
			}
		case BL_HEARTBEAT:
			{
				char	   *file;

				if (!bl_read_heartbeat(&ev, &rs->fmt, &file, err))
					return false;
				appendStringInfo(out, "HEARTBEAT %s:%u", file, ev.log_pos);
				break;
			}
		case BL_HEARTBEAT_V2:
			appendStringInfoString(out, "HEARTBEAT");
			break;
		case BL_INCIDENT:
			{
				int			incident;
				char	   *message;

				if (!bl_read_incident(&ev, &rs->fmt, &incident, &message, err))
					return false;
				appendStringInfo(out, "INCIDENT %d %s", incident, message);
				break;
			}
		default:
			if (bl_is_rows_event(ev.type))
			{
				if (!render_rows(rs, &ev, out, err))
					return false;
			}
			else
				appendStringInfo(out, "event type %u", ev.type);
			break;
	}
	appendStringInfoChar(out, '\n');
	return true;
}

/*
 * render_events: events back to back.
 */
static bool
render_events(RenderState *rs, const uint8 *buf, size_t len, bool checksum, const char *indent,
			  StringInfo out, char **err)
{
	size_t		off = 0;

	while (off < len)
	{
		uint32		size;

		if (!bl_next_event(buf, len, off, &size, err))
			return false;
		if (!render_event(rs, buf + off, size, checksum, indent, out, err))
			return false;
		off += size;
	}
	return true;
}

/*
 * bl_render_file: a binlog file (its magic bytes, then events) as text,
 * with or without checksums as its format description says; rows_out
 * (may be NULL) gets every row image as a line of fields (row_line).
 */
bool
bl_render_file(const uint8 *buf, size_t len, StringInfo out, StringInfo rows_out, char **err)
{
	RenderState *rs = palloc0(sizeof(RenderState));
	bool		checksum;

	if (len < 4 || memcmp(buf, "\xfe" "bin", 4) != 0)
	{
		*err = pstrdup("not a binlog file (no magic bytes)");
		return false;
	}
	if (!bl_file_checksum(buf + 4, len - 4, &checksum, err))
		return false;
	rs->rows_out = rows_out;
	return render_events(rs, buf + 4, len - 4, checksum, "", out, err);
}

/*
 * bl_render: events back to back as text, one line each.
 */
bool
bl_render(const uint8 *buf, size_t len, bool checksum, StringInfo out, char **err)
{
	RenderState *rs = palloc0(sizeof(RenderState));

	return render_events(rs, buf, len, checksum, "", out, err);
}
