/*-------------------------------------------------------------------------
 *
 * mysql_start.c
 *		Where a MySQL / MariaDB binlog dump starts: a file and offset, or a
 *		GTID state.
 *
 * A stream resumes from its checkpoint's file and offset, as long as they
 * mean on this server what they meant when the checkpoint was written.
 * MariaDB tells: BINLOG_GTID_POS(file, offset) is the server's GTID state
 * at that place, and it must hold every GTID the checkpoint lists.  On
 * Oracle MySQL the executed GTID set at that place (mysql_gtid.c) must be
 * the checkpoint's.  When it is not (the job's source now points at a
 * promoted replica, whose binlog files have other names or other contents
 * at the same names, or the server's binlogs were reset), the dump starts
 * from the checkpoint's GTID state instead (MariaDB: @slave_connect_state,
 * in GTID strict mode; MySQL: COM_BINLOG_DUMP_GTID with the checkpoint's
 * executed set): the server itself sends exactly the transactions after
 * it, or refuses when it lacks some of them.  Its positions then have
 * nothing to do with the checkpoint's, so the first ROTATE makes the sink
 * rebase (change.h).
 *
 * The GTID state a checkpoint lists must be complete: every domain, not
 * only those a transaction passed since the stream began.  So a stream
 * that starts from a bare file and offset (a fresh job, start_position)
 * takes the server's state there, when the server can tell.
 *
 * start_position forms this file serves besides file:offset: "earliest"
 * (the oldest binlog file on the server, from its start),
 * "gtid:<MariaDB GTID list>" (domain-server-seq, comma-separated) on
 * MariaDB, "gtid:<MySQL GTID set>" (uuid:1-100, the transactions not in
 * it) on MySQL, and "time:<timestamptz>" (mysql_time.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "source/mysql_source.h"
#include <mariadb_rpl.h>
#include "source/mysql_stream_int.h"

#include "utils/builtins.h"
#include "utils/timestamp.h"

/*
 * is_mariadb: whether the dump connection's server is MariaDB.
 */
static bool
is_mariadb(MyStream *st)
{
	const char *version = mysql_get_server_info(st->conn);

	return version != NULL && strstr(version, "MariaDB") != NULL;
}

/*
 * first_row_value: the first column of a query's first row on the dump
 * connection, or NULL (an error, no row, SQL NULL); the error is left on
 * the connection, not raised.
 */
static char *
first_row_value(MyStream *st, const char *sql)
{
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	char	   *val = NULL;

	if (myio_query(st->conn, sql, strlen(sql)) != 0)
		return NULL;
	res = myio_store_result(st->conn);
	if (res == NULL)
		return NULL;
	row = mysql_fetch_row(res);
	if (row != NULL && row[0] != NULL)
		val = pstrdup(row[0]);
	mysql_free_result(res);
	return val;
}

/*
 * mystart_is_mariadb: whether the stream's server is MariaDB.
 */
bool
mystart_is_mariadb(MyStream *st)
{
	return is_mariadb(st);
}

/*
 * gtid_pos_at: the server's GTID state at a binlog file and offset
 * (MariaDB's BINLOG_GTID_POS; MySQL's executed GTID set there,
 * mysql_gtid.c), "" for none yet, NULL when the server cannot tell (a
 * file it does not have, an offset inside an event group).  *untold: the
 * state cannot be known on this server at all (MySQL's tagged GTID sets):
 * positions are trusted as they are.
 */
static char *
gtid_pos_at(TributarySource *src, MyStream *st, uint32 server_id, const char *file, uint32 offset,
			bool *untold)
{
	size_t		len = strlen(file);
	char	   *quoted = palloc(2 * len + 1);

	*untold = false;
	if (!is_mariadb(st))
		return mygtid_mysql_pos_at(src, server_id, file, offset, untold);
	mysql_real_escape_string(st->conn, quoted, file, len);
	return first_row_value(st, psprintf("SELECT BINLOG_GTID_POS('%s', %u)", quoted, offset));
}

/*
 * state_holds: whether every GTID of set is in the comma-separated state.
 */
static bool
state_holds(const char *state, const MyGtidSet *set)
{
	for (int i = 0; i < set->n; i++)
	{
		size_t		len = strlen(set->gtids[i]);
		const char *p = state;
		bool		found = false;

		while (p && *p)
		{
			const char *end = strchr(p, ',');
			size_t		n = end ? (size_t) (end - p) : strlen(p);

			if (n == len && strncmp(p, set->gtids[i], len) == 0)
			{
				found = true;
				break;
			}
			p = end ? end + 1 : NULL;
		}
		if (!found)
			return false;
	}
	return true;
}

/*
 * maria_gtid_list: whether text is a MariaDB GTID list: domain-server-seq
 * triples of decimal numbers, comma-separated (what goes into
 * @slave_connect_state, so nothing else may).
 */
bool
mystart_maria_gtid_list(const char *text)
{
	const char *p = text;

	if (*p == '\0')
		return false;
	for (;;)
	{
		for (int part = 0; part < 3; part++)
		{
			if (!isdigit((unsigned char) *p))
				return false;
			while (isdigit((unsigned char) *p))
				p++;
			if (part < 2 && *p++ != '-')
				return false;
		}
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return false;
	}
}

/*
 * mystart_choose: where the dump of a stream starts.  start_lsn is the
 * position the worker resumes from, start_text the checkpoint's text or
 * the job's start_position.  Sets *file and *offset, or *gtid_state (a
 * MariaDB GTID list to start after); *rebase when the server's positions
 * do not continue start_lsn's numbering.  st->gtids ends up complete.
 */
void
mystart_choose(TributarySource *src, MyStream *st, uint32 server_id, XLogRecPtr start_lsn,
			   const char *start_text, char **file, uint32 *offset, char **gtid_state, bool *rebase)
{
	char	   *state;
	bool		untold;

	*gtid_state = NULL;
	*rebase = false;
	*file = mypos_file_name((uint32) (start_lsn >> 32));
	*offset = Max((uint32) start_lsn, 4);

	if (start_text && strncmp(start_text, "gtid:", 5) == 0)
	{
		bool		maria = is_mariadb(st);

		if (maria ? !mystart_maria_gtid_list(start_text + 5) : !mypos_mysql_gtid_set(start_text + 5))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("source \"%s\" cannot start streaming from GTID set %s", src->cfg.name, start_text + 5),
					 errdetail(maria ? "A MariaDB server starts from a MariaDB GTID list (domain-server-seq)."
							   : "A MySQL server starts from a MySQL GTID set (uuid:interval[:interval])."),
					 errhint("Give start_position as a binlog file and offset (SHOW BINARY LOGS lists them), or a GTID set of the server's kind.")));
		mygtid_set_parse(&st->gtids, start_text + 5);
		*gtid_state = maria ? pstrdup(start_text + 5) : mygtid_text(&st->gtids);
		*rebase = true;
		return;
	}

	if (start_text && strncmp(start_text, "time:", 5) == 0)
	{
		TimestampTz ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																 CStringGetDatum(start_text + 5),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1)));
		char	   *found;
		uint32		found_offset;

		mytime_find(src, st, server_id, (int64) timestamptz_to_time_t(ts), &found, &found_offset);
		if (found == NULL)
		{
			/* nothing committed since: every transaction from the end on */
			XLogRecPtr	end = mysrc_current_position(src);

			*file = mypos_file_name((uint32) (end >> 32));
			*offset = (uint32) end;
		}
		else
		{
			char	   *base;
			uint32		seq;

			if (!mypos_split_file(found, &base, &seq))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("binlog file name \"%s\" of source \"%s\" has no numeric extension", found, src->cfg.name)));
			mypos_remember_base(base);
			*file = found;
			*offset = found_offset;
		}
		ereport(LOG,
				(errmsg("pg_tributary: start_position %s of source \"%s\" is binlog position %s:%u",
						start_text, src->cfg.name, *file, *offset)));
		*rebase = true;
		state = gtid_pos_at(src, st, server_id, *file, *offset, &untold);
		if (state)
			mygtid_set_parse(&st->gtids, state);
		return;
	}

	if (start_text && strcmp(start_text, "earliest") == 0)
	{
		char	   *first = first_row_value(st, "SHOW BINARY LOGS");
		char	   *base;
		uint32		seq;

		if (first == NULL || !mypos_split_file(first, &base, &seq))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("source \"%s\" lists no binary log to start from", src->cfg.name),
					 errhint("Enable the binary log (log_bin) and grant REPLICATION CLIENT; tributary.check_source() lists what is missing.")));
		mypos_remember_base(base);
		*file = first;
		*offset = 4;
		*rebase = true;
		state = gtid_pos_at(src, st, server_id, *file, *offset, &untold);
		if (state)
			mygtid_set_parse(&st->gtids, state);
		return;
	}

	state = gtid_pos_at(src, st, server_id, *file, *offset, &untold);
	if (untold)
		return;
	if (st->gtids.n == 0)
	{
		/* a bare file and offset: the server's GTID state there, if any */
		if (state)
			mygtid_set_parse(&st->gtids, state);
		return;
	}
	if (is_mariadb(st) && state != NULL && state_holds(state, &st->gtids))
		return;
	if (!is_mariadb(st) && state != NULL && mygtid_mysql_same_place(state, &st->gtids))
	{
		/* the server's set there: whole, also for a checkpoint of an older version */
		mygtid_set_init(&st->gtids, st->cxt);
		mygtid_set_parse(&st->gtids, state);
		return;
	}

	/* the checkpoint's place is not on this server: resume by GTID */
	{
		char	   *text = mygtid_text(&st->gtids);

		if (is_mariadb(st) ? !mystart_maria_gtid_list(text) : !mypos_mysql_gtid_set(text))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("source \"%s\" does not have the job's binlog position %s:%u", src->cfg.name, *file, *offset),
					 errdetail("The job's checkpoint lists GTIDs %s, which are not a %s.", text,
							   is_mariadb(st) ? "MariaDB GTID list" : "MySQL GTID set without tags"),
					 errhint("Copy the job again with tributary.restart_job(job, false).")));
		if (!is_mariadb(st) && mygtid_mysql_partial(&st->gtids))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("source \"%s\" does not have the job's binlog position %s:%u", src->cfg.name, *file, *offset),
					 errdetail("The job's checkpoint lists only the last GTID of each server (%s), as versions before this one wrote them, not every transaction the job applied.", text),
					 errhint("Let the job resume once on the server its checkpoint was written on (its checkpoints then hold the whole set), or copy the job again with tributary.restart_job(job, false).")));
		ereport(LOG,
				(errmsg("pg_tributary: source \"%s\" does not have binlog position %s:%u as the job's checkpoint knew it (its GTID state there is %s); resuming after GTIDs %s",
						src->cfg.name, *file, *offset, state ? (*state ? state : "empty") : "unknown", text)));
		*gtid_state = text;
		*rebase = true;
	}
}
