# 028_mysql_cascades.pl -- foreign key actions on a MariaDB source (issue 12
# item 17).
#
# InnoDB carries out ON DELETE / ON UPDATE CASCADE and SET NULL inside the
# engine: the binlog has only the statement's own rows.  In Sakila,
# DELETE FROM rental set payment.rental_id to NULL on the source only, and
# key updates of city, language and customer left child rows stale on the
# target.  Now add_table and check_source name such foreign keys, and the
# worker carries their actions out on the target when parent and child are
# both in the job: SET NULL, CASCADE on delete and on update, composite
# keys, chains of actions, a self-referencing key, several keys on one
# child; a change logged with foreign_key_checks = 0 acts on nothing, as
# on the source.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('cascades');
# a Sakila subset with its foreign keys, and a few shapes Sakila lacks
$my->sql(q{CREATE DATABASE sakila; USE sakila;
	CREATE TABLE language (language_id TINYINT UNSIGNED PRIMARY KEY, name CHAR(20) NOT NULL);
	CREATE TABLE film (film_id SMALLINT UNSIGNED PRIMARY KEY, title VARCHAR(128) NOT NULL,
		language_id TINYINT UNSIGNED NOT NULL,
		CONSTRAINT fk_film_language FOREIGN KEY (language_id) REFERENCES language (language_id)
			ON DELETE RESTRICT ON UPDATE CASCADE);
	CREATE TABLE country (country_id SMALLINT UNSIGNED PRIMARY KEY, country VARCHAR(50) NOT NULL);
	CREATE TABLE city (city_id SMALLINT UNSIGNED PRIMARY KEY, city VARCHAR(50) NOT NULL,
		country_id SMALLINT UNSIGNED NOT NULL,
		CONSTRAINT fk_city_country FOREIGN KEY (country_id) REFERENCES country (country_id)
			ON DELETE RESTRICT ON UPDATE CASCADE);
	CREATE TABLE address (address_id SMALLINT UNSIGNED PRIMARY KEY, address VARCHAR(50) NOT NULL,
		city_id SMALLINT UNSIGNED NOT NULL,
		CONSTRAINT fk_address_city FOREIGN KEY (city_id) REFERENCES city (city_id)
			ON DELETE RESTRICT ON UPDATE CASCADE);
	CREATE TABLE customer (customer_id SMALLINT UNSIGNED PRIMARY KEY, name VARCHAR(45) NOT NULL,
		address_id SMALLINT UNSIGNED NOT NULL,
		CONSTRAINT fk_customer_address FOREIGN KEY (address_id) REFERENCES address (address_id)
			ON DELETE RESTRICT ON UPDATE CASCADE);
	CREATE TABLE rental (rental_id INT PRIMARY KEY, customer_id SMALLINT UNSIGNED NOT NULL,
		CONSTRAINT fk_rental_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id)
			ON DELETE RESTRICT ON UPDATE CASCADE);
	CREATE TABLE payment (payment_id SMALLINT UNSIGNED PRIMARY KEY, customer_id SMALLINT UNSIGNED NOT NULL,
		rental_id INT DEFAULT NULL, amount DECIMAL(5,2) NOT NULL,
		CONSTRAINT fk_payment_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id)
			ON DELETE RESTRICT ON UPDATE CASCADE,
		CONSTRAINT fk_payment_rental FOREIGN KEY (rental_id) REFERENCES rental (rental_id)
			ON DELETE SET NULL ON UPDATE CASCADE);
	CREATE TABLE emp (id INT PRIMARY KEY, boss INT NULL,
		CONSTRAINT fk_emp_boss FOREIGN KEY (boss) REFERENCES emp (id) ON DELETE CASCADE ON UPDATE CASCADE);
	CREATE TABLE pk2 (k1 INT, k2 VARCHAR(10), v INT, PRIMARY KEY (k1, k2));
	CREATE TABLE ck2 (id INT PRIMARY KEY, k1 INT, k2 VARCHAR(10),
		CONSTRAINT fk_ck2 FOREIGN KEY (k1, k2) REFERENCES pk2 (k1, k2) ON DELETE SET NULL ON UPDATE CASCADE);
	CREATE TABLE outside (id INT PRIMARY KEY);
	CREATE TABLE inside (id INT PRIMARY KEY, o INT,
		CONSTRAINT fk_inside_outside FOREIGN KEY (o) REFERENCES outside (id) ON DELETE CASCADE);
	INSERT INTO language VALUES (1, 'English'), (2, 'Italian');
	INSERT INTO film VALUES (1, 'ACADEMY DINOSAUR', 1), (2, 'ACE GOLDFINGER', 1), (3, 'ADAPTATION HOLES', 2);
	INSERT INTO country VALUES (1, 'Afghanistan'), (2, 'Algeria');
	INSERT INTO city VALUES (1, 'A Corua', 1), (2, 'Abha', 2), (3, 'Abu Dhabi', 2);
	INSERT INTO address VALUES (1, '47 MySakila Drive', 1), (2, '28 MySQL Boulevard', 2), (3, '23 Workhaven Lane', 2);
	INSERT INTO customer VALUES (1, 'MARY', 1), (2, 'PATRICIA', 2), (3, 'LINDA', 3);
	INSERT INTO rental VALUES (100, 1), (101, 1), (102, 2), (103, 3);
	INSERT INTO payment VALUES (1, 1, 100, 2.99), (2, 1, 100, 0.99), (3, 1, 101, 5.99), (4, 2, 102, 4.99), (5, 3, NULL, 1.99);
	INSERT INTO emp VALUES (1, NULL), (2, 1), (3, 2), (4, 3), (5, 1), (6, NULL);
	INSERT INTO pk2 VALUES (1, 'a', 1), (2, 'b', 2);
	INSERT INTO ck2 VALUES (1, 1, 'a'), (2, 1, 'a'), (3, 2, 'b'), (4, NULL, 'a');
	INSERT INTO outside VALUES (1); INSERT INTO inside VALUES (1, 1);});

my @tables = qw(language film country city address customer rental payment emp pk2 ck2);
my $target = target_node('target');
my $conn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('j', 'maria', 'full+cdc', '{"target_schema": "mirror"}');
});

# check_source names each foreign key with actions, and whether it can be carried out
my $checks = $target->safe_psql('postgres', q{
	SELECT check_name || ' ' || ok FROM tributary.check_source('maria', ARRAY['sakila.payment', 'sakila.rental', 'sakila.inside'])
	 WHERE check_name LIKE '%foreign key%' ORDER BY 1});
is($checks, "table sakila.inside foreign key fk_inside_outside false\n"
	. "table sakila.payment foreign key fk_payment_customer false\n"
	. "table sakila.payment foreign key fk_payment_rental true\n"
	. "table sakila.rental foreign key fk_rental_customer false",
	'check_source names the foreign keys with actions, failing those whose parent is not checked');

# add_table: a child before its parent warns; the parent makes it a NOTICE
my ($out, $err) = ('', '');
$target->psql('postgres', "SELECT tributary.add_table('j', 'sakila.payment')", stdout => \$out, stderr => \$err);
like($err, qr/WARNING:  foreign key fk_payment_rental of source table \[sakila\.payment\] references \[sakila\.rental\] ON DELETE SET NULL ON UPDATE CASCADE, which the source carries out without logging it/,
	'add_table warns of a foreign key with actions whose parent is not in the job');
like($err, qr/HINT:  Add \[sakila\.rental\] to the job/, '... and says what to do');
$target->psql('postgres', "SELECT tributary.add_table('j', 'sakila.rental')", stdout => \$out, stderr => \$err);
like($err, qr/NOTICE:  foreign key fk_payment_rental of source table \[sakila\.payment\] \(ON DELETE SET NULL, ON UPDATE CASCADE\) is now carried out on the target/,
	'adding the parent says the actions are carried out');
for my $t (grep { $_ ne 'payment' && $_ ne 'rental' } @tables)
{
	$target->safe_psql('postgres', "SELECT tributary.add_table('j', 'sakila.$t')");
}
$target->psql('postgres', "SELECT tributary.add_table('j', 'sakila.inside')", stdout => \$out, stderr => \$err);
like($err, qr/WARNING:  foreign key fk_inside_outside of source table \[sakila\.inside\] references \[sakila\.outside\]/,
	'a parent outside the job is warned of');
$target->safe_psql('postgres', "SELECT tributary.start_job('j')");

# compare: every table equal on source and target
sub compare
{
	my ($when) = @_;
	is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '60 s')"), 't', "the job syncs $when");
	for my $t (@tables)
	{
		my $cols = $my->sql("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS "
			  . "WHERE TABLE_SCHEMA = 'sakila' AND TABLE_NAME = '$t'");
		my $key = $t eq 'pk2' ? 'k1, k2' : (split /,/, $cols)[0];
		my $want = $my->sql("SELECT COUNT(*), IFNULL(GROUP_CONCAT(CONCAT_WS('|', " . join(', ', map { "IFNULL($_, 'NULL')" } split /,/, $cols)
			  . ") ORDER BY $key SEPARATOR ','), '') FROM sakila.$t");
		$want =~ s/\t/:/;
		my $got = $target->safe_psql('postgres', "SELECT count(*) || ':' || coalesce(string_agg(concat_ws('|', "
			  . join(', ', map { "coalesce(${_}::text, 'NULL')" } split /,/, $cols) . "), ',' ORDER BY $key), '') FROM mirror.$t");
		is($got, $want, "$t equals the source $when");
	}
}
compare('after the snapshot');

# the issue's cases: SET NULL on delete, CASCADE on key updates
$my->sql("USE sakila; DELETE FROM rental WHERE rental_id = 100;
	UPDATE city SET city_id = 30 WHERE city_id = 2;
	UPDATE language SET language_id = 10 WHERE language_id = 1;
	UPDATE customer SET customer_id = 11 WHERE customer_id = 1;");
is($my->sql("SELECT COUNT(*) FROM sakila.payment WHERE rental_id IS NULL"), '3', 'the source set two payments to NULL');
compare('after SET NULL and CASCADE on update');

# a chain: country -> city -> address -> customer -> rental / payment
$my->sql("USE sakila; UPDATE country SET country_id = 20 WHERE country_id = 2;
	UPDATE address SET address_id = 33 WHERE address_id = 3; UPDATE customer SET customer_id = 13 WHERE customer_id = 3;
	UPDATE rental SET rental_id = 1103 WHERE rental_id = 103;");
compare('after a chain of key updates');

# a self-referencing key: deleting a boss deletes the whole branch below
# (InnoDB refuses a key update that would cascade into the same table)
$my->sql("USE sakila; DELETE FROM emp WHERE id = 2; UPDATE emp SET id = 50 WHERE id = 5;
	INSERT INTO emp VALUES (7, 6), (8, 7), (9, 8);");
$my->sql("USE sakila; DELETE FROM emp WHERE id = 6;");
compare('after self-referencing actions');

# a composite key: CASCADE on update, SET NULL on delete; a NULL part matches nothing
$my->sql("USE sakila; UPDATE pk2 SET k2 = 'z' WHERE k1 = 1; DELETE FROM pk2 WHERE k1 = 2;");
compare('after composite key actions');

# one transaction: inserts the apply buffers, then a delete that acts on them
$my->sql("USE sakila; BEGIN; INSERT INTO rental VALUES (200, 2); INSERT INTO payment VALUES (20, 2, 200, 1.00), (21, 2, 200, 2.00);
	DELETE FROM rental WHERE rental_id = 200; COMMIT;");
compare('after actions on rows inserted in the same transaction');

# foreign_key_checks = 0: the source carries out no action, nor does the target
$my->sql("USE sakila; SET foreign_key_checks = 0; DELETE FROM rental WHERE rental_id = 101; UPDATE language SET language_id = 99 WHERE language_id = 2;");
is($my->sql("SELECT COUNT(*) FROM sakila.payment WHERE rental_id = 101"), '1', 'with foreign_key_checks = 0 the source left the payment');
compare('after changes with foreign_key_checks = 0');

# the actions survive a restart of the worker
$target->safe_psql('postgres', "SELECT tributary.restart_job('j')");
$my->sql("USE sakila; DELETE FROM rental WHERE rental_id = 102; UPDATE customer SET customer_id = 12 WHERE customer_id = 2;");
compare('after a restart');

$target->safe_psql('postgres', "SELECT tributary.drop_job('j')");
done_testing();
