/*-------------------------------------------------------------------------
 *
 * pg_libpq.c
 *		Interruptible libpq calls for backends and background workers.
 *
 * libpq's blocking calls cannot be interrupted by a query cancel, a stop
 * request or postmaster death.  These helpers use libpq's asynchronous
 * interface and wait on the process latch and the socket together, as
 * PostgreSQL's own libpqwalreceiver does.  A background worker that got a
 * shutdown request (ShutdownRequestPending) sees it as an ERROR with
 * SQLSTATE 57P01 (admin_shutdown), so its main loop can end the run
 * cleanly.
 *
 * Remote errors are copied (text and SQLSTATE) before the result is freed,
 * and raised as errors of this server naming the source.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "source/connector.h"
#include "source/pg_libpq.h"

/*
 * wait_for_socket: wait until the socket is ready for io_flag, the latch is
 * set or timeout_ms passes (-1 = no timeout).  Handles interrupts.  Returns
 * false on timeout.
 */
static bool
wait_for_socket(PGconn *conn, int io_flag, TimestampTz deadline)
{
	return (tributary_wait_socket(PQsocket(conn), io_flag, deadline) & io_flag) != 0;
}

/*
 * tributary_pq_connect: connect to a PostgreSQL server without blocking
 * interrupts.  conninfo is the user's string; appname goes in as
 * fallback_application_name so the user may override it.  Returns the
 * connection, or NULL with *err set to libpq's message.
 */
PGconn *
tributary_pq_connect(const char *conninfo, const char *appname, bool replication,
					 int timeout_s, char **err)
{
	const char *keys[7];
	const char *vals[7];
	int			n = 0;
	PGconn	   *conn;
	PostgresPollingStatusType status = PGRES_POLLING_WRITING;
	TimestampTz deadline = 0;

	keys[n] = "dbname";
	vals[n++] = conninfo;
	keys[n] = "fallback_application_name";
	vals[n++] = appname;
	/*
	 * Values come in this database's encoding: the source converts text
	 * (COPY, pgoutput, tributary_decoder) as PostgreSQL's own subscriber
	 * asks it to, and refuses a character this database cannot hold.
	 * Given after the user's conninfo, these settings win over it.
	 */
	keys[n] = "client_encoding";
	vals[n++] = GetDatabaseEncodingName();
	if (replication)
	{
		keys[n] = "replication";
		vals[n++] = "database";
		/* what pgoutput's text values look like (tributary_decoder pins its own) */
		keys[n] = "options";
		vals[n++] = "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "
			"-c timezone=UTC -c bytea_output=hex";
	}
	keys[n] = NULL;
	vals[n] = NULL;

	*err = NULL;
	conn = PQconnectStartParams(keys, vals, true);
	if (conn == NULL)
	{
		*err = pstrdup("out of memory");
		return NULL;
	}
	if (timeout_s > 0)
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_s * 1000);

	PG_TRY();
	{
		while (PQstatus(conn) != CONNECTION_BAD &&
			   status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED)
		{
			int			io_flag = (status == PGRES_POLLING_READING) ?
				WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;

			if (!wait_for_socket(conn, io_flag, deadline))
			{
				*err = psprintf("timeout expired after %d seconds", timeout_s);
				break;
			}
			status = PQconnectPoll(conn);
		}
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (*err == NULL && PQstatus(conn) != CONNECTION_OK)
		*err = pchomp(PQerrorMessage(conn));
	if (*err != NULL)
	{
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/*
 * pq_exec: send a query and wait for its last result.  Normal connections
 * always use the extended protocol, which takes exactly one statement;
 * replication connections only speak the simple one (simple = true), and
 * only ever get our own commands.
 */
static PGresult *
pq_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
		int timeout_ms, bool simple)
{
	PGresult   *last = NULL;
	TimestampTz deadline = 0;

	if (timeout_ms > 0)
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	if (simple ? !PQsendQuery(conn, sql)
		: !PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
		return NULL;

	PG_TRY();
	{
		for (;;)
		{
			PGresult   *res;

			while (PQisBusy(conn))
			{
				if (!wait_for_socket(conn, WL_SOCKET_READABLE, deadline))
				{
					PQclear(last);
					last = NULL;
					goto done;
				}
				if (PQconsumeInput(conn) == 0)
				{
					PQclear(last);
					last = NULL;
					goto done;
				}
			}
			res = PQgetResult(conn);
			if (res == NULL)
				break;
			PQclear(last);
			last = res;
			if (PQresultStatus(res) == PGRES_COPY_IN ||
				PQresultStatus(res) == PGRES_COPY_OUT ||
				PQresultStatus(res) == PGRES_COPY_BOTH ||
				PQstatus(conn) == CONNECTION_BAD)
				break;
		}
done:	;
	}
	PG_CATCH();
	{
		PQclear(last);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return last;
}

/*
 * tributary_pq_exec: run one statement (with text parameters) on a normal
 * connection and wait for its last result.  Returns NULL if the connection
 * failed or timeout_ms passed; the caller inspects and clears the result.
 */
PGresult *
tributary_pq_exec(PGconn *conn, const char *sql, int nparams,
				  const char *const *params, int timeout_ms)
{
	return pq_exec(conn, sql, nparams, params, timeout_ms, false);
}

/*
 * tributary_pq_exec_replication: run a replication command (built from
 * quoted names and our own values only) on a replication connection.
 */
PGresult *
tributary_pq_exec_replication(PGconn *conn, const char *sql, int timeout_ms)
{
	return pq_exec(conn, sql, 0, NULL, timeout_ms, true);
}

/*
 * tributary_pq_raise: raise the error of a failed remote command, with the
 * remote SQLSTATE and text, after freeing the result.  "what" says what we
 * were doing ("could not read table definition").
 */
void
tributary_pq_raise(PGconn *conn, PGresult *res, const char *source_name, const char *what)
{
	char	   *msg;
	char	   *detail = NULL;
	int			sqlstate = ERRCODE_CONNECTION_FAILURE;

	if (res != NULL && PQresultErrorMessage(res)[0] != '\0')
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		msg = pstrdup(primary ? primary : pchomp(PQresultErrorMessage(res)));
		if (d)
			detail = pstrdup(d);
		if (state && strlen(state) == 5)
			sqlstate = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
	}
	else if (PQstatus(conn) == CONNECTION_BAD || PQerrorMessage(conn)[0] != '\0')
		msg = pchomp(PQerrorMessage(conn));
	else
		msg = pstrdup("the source did not answer in time");
	PQclear(res);

	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("%s from source \"%s\": %s", what, source_name, msg),
			 detail ? errdetail_internal("%s", detail) : 0));
}

/*
 * tributary_pq_query: run a query that must succeed with tuples or a
 * command status (no timeout); raise the remote error otherwise.
 */
PGresult *
tributary_pq_query(PGconn *conn, const char *source_name, const char *sql,
				   int nparams, const char *const *params)
{
	PGresult   *res = tributary_pq_exec(conn, sql, nparams, params, 0);

	if (res == NULL ||
		(PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK))
		tributary_pq_raise(conn, res, source_name, "query failed");
	return res;
}

/*
 * tributary_pq_wait_readable: wait (interruptibly) until the connection
 * has input, and read it.
 */
void
tributary_pq_wait_readable(PGconn *conn)
{
	(void) wait_for_socket(conn, WL_SOCKET_READABLE, 0);
	(void) PQconsumeInput(conn);
}
