/*-------------------------------------------------------------------------
 *
 * pg_tributary--0.1.sql
 *		Catalog, SQL API and monitoring views of pg_tributary.
 *
 * Built by the Makefile from the files of sql/parts, in name order.
 *
 * The catalog lives in schema "tributary"; every table is dumped with
 * pg_extension_config_dump so pg_dump keeps sources, jobs and positions.
 * Columns are prefixed per table (source_*, job_*, jt_*, ...).
 *
 * Privileges (docs/security.md): the catalog tables grant nothing to
 * anyone; the SQL API is the only writer.  Each public API function is a
 * C entry point (tributary_api) that notes the calling role and runs the
 * function's body, tributary._api_<name>, SECURITY DEFINER with
 * search_path pg_catalog, pg_temp; bodies check that the caller owns the
 * job or source (or is a member of its owner role, or a superuser).
 * Superusers and members of tributary_admin may call the API; the views
 * show each role the jobs and sources it owns.
 *
 * A trigger on the job and job_table tables records every definition
 * change in job_version and wakes the launcher when the transaction
 * commits, so the launcher never polls the catalog.
 *
 *-------------------------------------------------------------------------
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_tributary" to load this file. \quit

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tributary_admin') THEN
		CREATE ROLE tributary_admin NOLOGIN;
	END IF;
END
$$;
