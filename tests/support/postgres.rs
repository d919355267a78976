//! A throwaway PostgreSQL database per test, on the server this machine
//! runs (127.0.0.1:5432, trust auth). `HSFLOW_TEST_PG` points elsewhere.
//! A test that needs PostgreSQL fails with this module's message when the
//! server is not there: it never passes by skipping itself.

use sqlx::{Connection, Executor, PgConnection};

/// The server's maintenance database, where test databases are made.
fn admin_url() -> String {
    std::env::var("HSFLOW_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty database; dropped by [`TestDb::drop_now`].
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL is needed for this test and {admin} did not answer ({e}); start it or set HSFLOW_TEST_PG")
        });
        let name = format!("hsflow_t_{}", uuid::Uuid::new_v4().simple());
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create the test database");
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin.clone());
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// Drop the database (its connections too).
    pub async fn drop_now(self) {
        if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
            let _ = conn
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await;
        }
    }
}

/// Run `check` on a store over a fresh database, then drop the database:
/// the PostgreSQL half of a test written once for both engines.
pub async fn on_postgres_store(check: impl AsyncFnOnce(&hsflow::store::Store)) {
    let db = TestDb::create().await;
    let store = hsflow::store::Store::connect(&db.url)
        .await
        .expect("connect to the test database");
    check(&store).await;
    drop(store);
    db.drop_now().await;
}
