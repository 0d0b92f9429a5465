/*-------------------------------------------------------------------------
 *
 * mysql_io.c
 *		Interruptible MySQL client calls for backends and background workers.
 *
 * Connector/C's blocking calls cannot be interrupted: a query waiting for a
 * table lock on the source, or a server that accepts a connection and then
 * says nothing, kept a worker deaf to stop_job and a backend deaf to a
 * query cancel or statement_timeout.  Connections are therefore opened
 * with MYSQL_OPT_NONBLOCK and every call that may wait goes through
 * Connector/C's non-blocking API (mysql_*_start / mysql_*_cont), waiting on
 * the process latch and the connection's socket together, as pg_libpq.c
 * does for libpq.  A cancel, a shutdown request (ERROR 57P01 in a worker)
 * or the postmaster's death ends the wait; the connection is then closed
 * by its owner's memory-context callback.
 *
 * Query connections have no read timeout (a snapshot chunk may wait on a
 * lock as long as the DBA lets it); TCP keepalives find a dead peer
 * instead.  The binlog dump keeps its read timeout: heartbeats flow on it.
 *
 * The binlog API (mariadb_rpl_fetch) has no non-blocking form, so the
 * stream only calls it when a read will not block: myio_buffered says
 * whether the connector's read-ahead buffer still holds bytes.  That is
 * the one place that reads a connector structure outside mysql.h, kept
 * here on its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include "storage/latch.h"
#include "utils/timestamp.h"

#include "source/connector.h"
#include "source/mysql_io.h"
#include <ma_pvio.h>

/*
 * myio_wait: wait until what a non-blocking call asked for (status, a set
 * of MYSQL_WAIT_* flags) happened, handling interrupts meanwhile; returns
 * what happened, for the matching _cont call.
 */
static int
myio_wait(MYSQL *conn, int status)
{
	TimestampTz deadline = 0;
	int			io = 0;
	int			rc;
	int			ready = 0;

	if (status & MYSQL_WAIT_TIMEOUT)
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											   Max(mysql_get_timeout_value_ms(conn), 1));
	if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT))
		io |= WL_SOCKET_READABLE;
	if (status & MYSQL_WAIT_WRITE)
		io |= WL_SOCKET_WRITEABLE;
	rc = tributary_wait_socket(mysql_get_socket(conn), io, deadline);
	if (rc & WL_SOCKET_READABLE)
		ready |= (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT));
	if (rc & WL_SOCKET_WRITEABLE)
		ready |= MYSQL_WAIT_WRITE;
	if (rc & WL_TIMEOUT)
		ready |= MYSQL_WAIT_TIMEOUT;
	return ready;
}

/*
 * myio_prepare: options every connection gets before it connects: the
 * non-blocking API, and (for query connections) no read timeout.
 */
void
myio_prepare(MYSQL *conn, bool no_read_timeout)
{
	mysql_options(conn, MYSQL_OPT_NONBLOCK, 0);
	if (no_read_timeout)
	{
		unsigned int none = 0;

		mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &none);
	}
}

/*
 * keepalive: TCP keepalives on the connection's socket (a minute idle,
 * then probes every 10 s, 6 of them), so a query connection without a read
 * timeout still notices a peer that vanished.  Unix sockets ignore them.
 */
static void
keepalive(MYSQL *conn)
{
	int			fd = mysql_get_socket(conn);
	int			on = 1;
	int			idle = 60;
	int			interval = 10;
	int			count = 6;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0)
		return;
#ifdef TCP_KEEPIDLE
	(void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
#endif
#ifdef TCP_KEEPINTVL
	(void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
#endif
#ifdef TCP_KEEPCNT
	(void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
#endif
}

/*
 * myio_connect: mysql_real_connect, interruptibly.  False on failure (the
 * error is the connection's).
 */
bool
myio_connect(MYSQL *conn, const char *host, const char *user, const char *password,
			 const char *dbname, unsigned int port)
{
	MYSQL	   *ret = NULL;
	int			status;

	status = mysql_real_connect_start(&ret, conn, host, user, password, dbname, port, NULL, 0);
	while (status != 0)
		status = mysql_real_connect_cont(&ret, conn, myio_wait(conn, status));
	if (ret != NULL)
		keepalive(conn);
	return ret != NULL;
}

/*
 * myio_query: mysql_real_query, interruptibly (0 on success, as it).
 */
int
myio_query(MYSQL *conn, const char *sql, size_t len)
{
	int			ret = 1;
	int			status;

	status = mysql_real_query_start(&ret, conn, sql, (unsigned long) len);
	while (status != 0)
		status = mysql_real_query_cont(&ret, conn, myio_wait(conn, status));
	return ret;
}

/*
 * myio_store_result: mysql_store_result, interruptibly.
 */
MYSQL_RES *
myio_store_result(MYSQL *conn)
{
	MYSQL_RES  *ret = NULL;
	int			status;

	status = mysql_store_result_start(&ret, conn);
	while (status != 0)
		status = mysql_store_result_cont(&ret, conn, myio_wait(conn, status));
	return ret;
}

/*
 * myio_fetch_row: mysql_fetch_row of a result being read (mysql_use_result),
 * interruptibly.
 */
MYSQL_ROW
myio_fetch_row(MYSQL_RES *res)
{
	MYSQL_ROW	ret = NULL;
	int			status;

	status = mysql_fetch_row_start(&ret, res);
	while (status != 0)
		status = mysql_fetch_row_cont(&ret, res, myio_wait(res->handle, status));
	return ret;
}

/*
 * myio_buffered: whether a read of the connection will find data without
 * waiting: Connector/C's read-ahead cache holds bytes, or the socket is
 * readable.  For the binlog dump only (see the file's header).
 */
bool
myio_buffered(MYSQL *conn)
{
	MARIADB_PVIO *pvio = conn->net.pvio;
	struct pollfd pfd;

	if (pvio && pvio->cache && pvio->cache + pvio->cache_size > pvio->cache_pos)
		return true;
	pfd.fd = mysql_get_socket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) > 0;
}
