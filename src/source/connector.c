/*-------------------------------------------------------------------------
 *
 * connector.c
 *		The registry of source kinds, and what is the same for every kind:
 *		connect, disconnect, positions as text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "source/connector.h"

#define MAX_KINDS	16

/* the registered kinds: set in _PG_init, the same in every process */
static const TributaryConnector *kinds[MAX_KINDS];
static int	nkinds = 0;

/*
 * tributary_register_connector: make a source kind known.  Called from
 * the _PG_init of the library that provides it (which must be in
 * shared_preload_libraries, so that every job worker has it).
 */
void
tributary_register_connector(const TributaryConnector *connector)
{
	if (connector->admin == NULL || connector->position == NULL ||
		connector->admin->try_connect == NULL || connector->admin->disconnect == NULL ||
		connector->admin->describe_table == NULL || connector->admin->run_checks == NULL ||
		connector->position->current == NULL)
		elog(ERROR, "source kind \"%s\" lacks a required method", connector->kind);
	for (int i = 0; i < nkinds; i++)
		if (strcmp(kinds[i]->kind, connector->kind) == 0)
		{
			kinds[i] = connector;
			return;
		}
	if (nkinds == MAX_KINDS)
		elog(ERROR, "too many source kinds");
	kinds[nkinds++] = connector;
}

/*
 * tributary_source_kinds: the registered kinds, for create_source.
 */
PG_FUNCTION_INFO_V1(tributary_source_kinds);
Datum
tributary_source_kinds(PG_FUNCTION_ARGS)
{
	Datum	   *names = palloc(sizeof(Datum) * Max(nkinds, 1));

	for (int i = 0; i < nkinds; i++)
		names[i] = CStringGetTextDatum(kinds[i]->kind);
	PG_RETURN_ARRAYTYPE_P(construct_array(names, nkinds, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * tributary_find_connector: the kind registered under a name, or NULL.
 */
const TributaryConnector *
tributary_find_connector(const char *kind)
{
	for (int i = 0; i < nkinds; i++)
		if (strcmp(kinds[i]->kind, kind) == 0)
			return kinds[i];
	return NULL;
}

/*
 * tributary_source_connect: open the source's connection or raise the
 * source's own error text (never the connection string, which may hold a
 * password).
 */
void
tributary_source_connect(TributarySource *src, const char *appname)
{
	char	   *err = src->connector->admin->try_connect(src, appname);

	if (err != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to source \"%s\": %s", src->cfg.name, err),
				 errhint("Check the source's host, port, user and password (tributary.sources shows them, password masked), and that it accepts connections from this server.")));
}

/*
 * tributary_password_refused: the error for a connection of a source that
 * must authenticate with a password (it was defined by a non-superuser)
 * when the server did not ask for one: trust or peer authentication of
 * the server's own account, or a certificate, would let the definer reach
 * the server as someone else (the rule of dblink and postgres_fdw).  The
 * caller has closed the connection.
 */
void
tributary_password_refused(TributarySource *src)
{
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("password is required"),
			 errdetail("Non-superuser cannot connect if the server does not request a password."),
			 errhint("Source \"%s\" was defined by a non-superuser: its server must authenticate its user with a password, not trust, peer or a certificate.",
					 src->cfg.name)));
}

/*
 * tributary_source_disconnect: close the source's connections if open.
 */
void
tributary_source_disconnect(TributarySource *src)
{
	if (src == NULL)
		return;
	if (src->stream != NULL && src->connector->stream)
		src->connector->stream->close(src);
	if (src->conn != NULL)
		src->connector->admin->disconnect(src);
}

/*
 * tributary_parse_lsn: a position in its text form ("16/B374D848").
 */
XLogRecPtr
tributary_parse_lsn(const char *text)
{
	return DatumGetLSN(DirectFunctionCall1(pg_lsn_in, CStringGetDatum(text)));
}

/*
 * tributary_position_out: a source position as its kind writes it (an LSN,
 * or a MySQL binlog file and offset).
 */
char *
tributary_position_out(TributarySource *src, XLogRecPtr pos)
{
	if (src->connector->position->out)
		return src->connector->position->out(src, pos);
	return psprintf("%X/%X", LSN_FORMAT_ARGS(pos));
}

/*
 * tributary_position_in: a source position's text as the number the
 * worker orders positions by.
 */
XLogRecPtr
tributary_position_in(TributarySource *src, const char *text)
{
	if (src->connector->position->in)
		return src->connector->position->in(src, text);
	return tributary_parse_lsn(text);
}

/*
 * tributary_position_bytes: how many bytes of the source's log lie between
 * two positions (0 when "to" is not later).
 */
int64
tributary_position_bytes(TributarySource *src, XLogRecPtr from, XLogRecPtr to)
{
	if (to <= from)
		return 0;
	if (src->connector->position->bytes)
		return src->connector->position->bytes(src, from, to);
	return (int64) (to - from);
}

/*
 * tributary_current_position: the source's end of log now, over the
 * normal connection.
 */
XLogRecPtr
tributary_current_position(TributarySource *src)
{
	return src->connector->position->current(src);
}

/*
 * tributary_wait_socket: wait until a connector's socket is ready for
 * io_events (WL_SOCKET_* flags) or the deadline passes (0: none), handling
 * interrupts meanwhile: a query cancel raises, a worker's shutdown request
 * is an ERROR 57P01, the postmaster's death ends the process.  Returns the
 * io_events that are ready, or WL_TIMEOUT.  Connectors wait only here, so
 * no wait on a source is deaf to a stop.
 */
int
tributary_wait_socket(pgsocket sock, int io_events, TimestampTz deadline)
{
	for (;;)
	{
		long		timeout = -1;
		int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | io_events;
		int			rc;

		if (deadline != 0)
		{
			timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (timeout <= 0)
				return WL_TIMEOUT;
			events |= WL_TIMEOUT;
		}
		rc = WaitLatchOrSocket(MyLatch, events, sock, timeout, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			if (ShutdownRequestPending)
				ereport(ERROR,
						(errcode(ERRCODE_ADMIN_SHUTDOWN),
						 errmsg("stop requested while waiting for the source")));
		}
		if (rc & (io_events | WL_TIMEOUT))
			return rc & (io_events | WL_TIMEOUT);
	}
}

PG_FUNCTION_INFO_V1(tributary_position_check);

/*
 * tributary_position_check(kind, position): refuse a start position a
 * source of that kind cannot have (create_job and alter_job check the
 * job option start_position with it, instead of a worker failing on it).
 */
Datum
tributary_position_check(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *pos = text_to_cstring(PG_GETARG_TEXT_PP(1));
	const TributaryConnector *connector = tributary_find_connector(kind);
	TributarySource src;

	if (connector == NULL)
		elog(ERROR, "unknown source kind \"%s\"", kind);
	if (connector->position->in == NULL)
	{
		bool		have_error = false;

		(void) pg_lsn_in_internal(pos, &have_error);
		if (have_error)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid start_position \"%s\"", pos),
					 errhint("A PostgreSQL position is an LSN, like 16/B374D848.")));
		PG_RETURN_VOID();
	}
	memset(&src, 0, sizeof(src));
	src.connector = connector;
	(void) tributary_position_in(&src, pos);
	PG_RETURN_VOID();
}
