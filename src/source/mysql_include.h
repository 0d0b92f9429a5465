/*-------------------------------------------------------------------------
 *
 * mysql_include.h
 *		Include MariaDB Connector/C's mysql.h next to PostgreSQL's headers.
 *
 * Connector/C declares list_length, list_delete and list_free, which
 * collide with PostgreSQL's List functions; rename its declarations while
 * including it.  Include this file after postgres.h and before any file
 * that includes nodes/pg_list.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_MYSQL_INCLUDE_H
#define TRIBUTARY_MYSQL_INCLUDE_H

#define list_length mariadb_list_length
#define list_delete mariadb_list_delete
#define list_free mariadb_list_free
#define list_add mariadb_list_add
#define list_cons mariadb_list_cons
#define list_reverse mariadb_list_reverse
#define list_walk mariadb_list_walk
#include <mysql.h>
#undef list_length
#undef list_delete
#undef list_free
#undef list_add
#undef list_cons
#undef list_reverse
#undef list_walk

#endif							/* TRIBUTARY_MYSQL_INCLUDE_H */
