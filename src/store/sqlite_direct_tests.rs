//! The writer's SQLite calls behave as sqlx's did: parameters numbered the
//! same way, rows read by name or position, errors instead of guesses, a
//! failed round rolled back, and statements not compiled again each time.

use super::*;

fn conn() -> (tempfile::TempDir, Conn) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Conn::open(&dir.path().join("t.db")).expect("open");
    c.batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB, due INTEGER)")
        .expect("schema");
    (dir, c)
}

#[tokio::test]
async fn numbered_parameters_take_their_own_argument_however_often_they_appear() {
    let (_dir, mut c) = conn();
    // `$2` before `$1`, and `$1` twice: each takes argument N, not its place.
    let done = query("INSERT INTO t (id, name, due) VALUES ($2, $1, $2 + 10), ($3, $1, $3)")
        .bind("ann")
        .bind(7i64)
        .bind(8i64)
        .execute(&mut c)
        .await
        .expect("insert");
    assert_eq!(done.rows_affected(), 2);
    let rows: Vec<(i64, i64)> = query_as("SELECT id, due FROM t ORDER BY id")
        .fetch_all(&mut c)
        .await
        .expect("read");
    assert_eq!(rows, [(7, 17), (8, 8)]);
    // A bare `?` takes the next argument in turn.
    let names: Vec<String> = query_scalar("SELECT name FROM t WHERE id IN (?, ?) ORDER BY id")
        .bind(8i64)
        .bind(9i64)
        .fetch_all(&mut c)
        .await
        .expect("read");
    assert_eq!(names, ["ann"]);
}

#[tokio::test]
async fn a_parameter_without_its_argument_is_an_error_not_a_null() {
    let (_dir, mut c) = conn();
    let err = query("INSERT INTO t (id, name) VALUES ($1, $2)")
        .bind(1i64)
        .execute(&mut c)
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, Error::InvalidParameterCount(2, 1)), "{err:?}");
    let count: i64 = query_scalar("SELECT COUNT(*) FROM t")
        .fetch_one(&mut c)
        .await
        .expect("count");
    assert_eq!(count, 0);
}

#[tokio::test]
async fn rows_are_read_by_name_or_position_with_their_types_checked() {
    let (_dir, mut c) = conn();
    let blob: &[u8] = &[0, 1, 2, 255];
    query("INSERT INTO t (id, name, data, due) VALUES ($1, $2, $3, $4)")
        .bind(1i64)
        .bind(None::<&str>)
        .bind(blob)
        .bind(Some(5i64))
        .execute(&mut c)
        .await
        .expect("insert");
    let rows = query("SELECT id, name, data, due FROM t")
        .fetch_all(&mut c)
        .await
        .expect("read");
    let r = &rows[0];
    assert_eq!(r.try_get::<i64, _>("id").expect("id"), 1);
    assert_eq!(r.try_get::<Option<String>, _>("name").expect("name"), None);
    assert_eq!(r.try_get::<Vec<u8>, _>(2).expect("data"), blob);
    assert!(matches!(
        r.try_get::<i64, _>("nope"),
        Err(Error::InvalidColumnName(n)) if n == "nope"
    ));
    assert!(matches!(
        r.try_get::<i64, _>(9),
        Err(Error::InvalidColumnIndex(9))
    ));
    // A blob is not text: said, not converted.
    assert!(matches!(
        r.try_get::<String, _>("data"),
        Err(Error::InvalidColumnType(2, ..))
    ));
    assert!(matches!(
        query_scalar::<_, i64>("SELECT id FROM t WHERE id = 99")
            .fetch_one(&mut c)
            .await,
        Err(Error::QueryReturnedNoRows)
    ));
}

#[tokio::test]
async fn a_failed_round_rolls_back_whole_and_the_connection_goes_on() {
    let (_dir, mut c) = conn();
    c.batch("BEGIN IMMEDIATE").expect("begin");
    query("INSERT INTO t (id) VALUES (1)")
        .execute(&mut c)
        .await
        .expect("first");
    let dup = query("INSERT INTO t (id) VALUES (1)").execute(&mut c).await;
    assert!(dup.is_err(), "the same id twice");
    c.rollback().expect("rollback");
    // Nothing open now: a second rollback is no error.
    c.rollback().expect("nothing to roll back");
    let count: i64 = query_scalar("SELECT COUNT(*) FROM t")
        .fetch_one(&mut c)
        .await
        .expect("count");
    assert_eq!(count, 0, "the first insert went with the round");
}

#[tokio::test]
async fn a_statement_is_compiled_once_whatever_its_limit() {
    let (_dir, mut c) = conn();
    for id in 0..50i64 {
        query("INSERT INTO t (id, due) VALUES ($1, $1)")
            .bind(id)
            .execute(&mut c)
            .await
            .expect("insert");
    }
    let claim = "UPDATE t SET name = 'running' WHERE id IN (SELECT id FROM t WHERE due <= $1 ORDER BY due LIMIT $2) RETURNING id";
    for limit in 1..=10i64 {
        let got = query_scalar::<_, i64>(claim)
            .bind(1_000i64)
            .bind(limit)
            .fetch_all(&mut c)
            .await
            .expect("claim");
        assert_eq!(got.len() as i64, limit);
    }
    let stmt = c.db.prepare_cached(claim).expect("cached");
    assert_eq!(
        stmt.get_status(rusqlite::StatementStatus::RePrepare),
        0,
        "compiled again when its LIMIT changed"
    );
}
