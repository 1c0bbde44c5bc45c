//! The cluster's tables (schema 4): the distribution's lease, the operators' presence and
//! their phones' bindings. Every call is bounded like the rest of the store.

use super::{PgStore, StoreError, db, within};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio_postgres::types::Json;

/// Who holds a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub owner: String,
    pub address: String,
    pub secret: String,
    pub epoch: i64,
    /// Not lapsed yet, by the database's clock.
    pub live: bool,
}

/// An operator's sign-in as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceRow {
    pub operator: String,
    pub serving: Vec<String>,
    pub paused: Option<String>,
}

/// An operator's phone as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneRow {
    pub operator: String,
    pub contact: String,
    pub source: String,
    pub transport: String,
    pub expires: DateTime<Utc>,
}

impl PgStore {
    /// Take the lease `name` for `owner` for `ttl` if nobody holds it (or its holding lapsed):
    /// the new epoch, or `None` when someone else holds it.
    pub async fn claim_lease(
        &self,
        name: &str,
        owner: &str,
        address: &str,
        secret: &str,
        ttl: Duration,
    ) -> Result<Option<i64>, StoreError> {
        within(async {
            let c = self.client().await?;
            let row = c
                .query_opt(
                    "INSERT INTO leases (name, owner, address, secret, epoch, until)
                     VALUES ($1, $2, $3, $4, 1, now() + make_interval(secs => $5))
                     ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, address = EXCLUDED.address,
                         secret = EXCLUDED.secret, epoch = leases.epoch + 1, until = EXCLUDED.until
                     WHERE leases.until < now()
                     RETURNING epoch",
                    &[&name, &owner, &address, &secret, &ttl.as_secs_f64()],
                )
                .await
                .map_err(db)?;
            Ok(row.map(|r| r.get(0)))
        })
        .await
    }

    /// Extend our holding by `ttl` from now; `false` if it is no longer ours.
    pub async fn renew_lease(&self, name: &str, owner: &str, epoch: i64, ttl: Duration) -> Result<bool, StoreError> {
        within(async {
            let c = self.client().await?;
            let n = c
                .execute(
                    "UPDATE leases SET until = now() + make_interval(secs => $4)
                     WHERE name = $1 AND owner = $2 AND epoch = $3",
                    &[&name, &owner, &epoch, &ttl.as_secs_f64()],
                )
                .await
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    /// Give the lease up at once (a node draining or stopping), if it is still ours.
    pub async fn release_lease(&self, name: &str, owner: &str, epoch: i64) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            c.execute(
                "UPDATE leases SET until = now() - interval '1 second' WHERE name = $1 AND owner = $2 AND epoch = $3",
                &[&name, &owner, &epoch],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    /// Who holds the lease `name`, if anyone ever did.
    pub async fn lease_holder(&self, name: &str) -> Result<Option<LeaseHolder>, StoreError> {
        within(async {
            let c = self.client().await?;
            let row = c
                .query_opt("SELECT owner, address, secret, epoch, until > now() FROM leases WHERE name = $1", &[&name])
                .await
                .map_err(db)?;
            Ok(row.map(|r| LeaseHolder {
                owner: r.get(0),
                address: r.get(1),
                secret: r.get(2),
                epoch: r.get(3),
                live: r.get(4),
            }))
        })
        .await
    }

    /// Keep an operator's presence, only while `owner` holds lease `name` at `epoch` (a node
    /// that lost the lease cannot overwrite what the new holder keeps).
    pub async fn put_presence(&self, lease: (&str, &str, i64), p: &PresenceRow) -> Result<bool, StoreError> {
        let (name, owner, epoch) = lease;
        within(async {
            let c = self.client().await?;
            let n = c
                .execute(
                    "INSERT INTO operator_presence (operator, serving, paused)
                     SELECT $1, $2, $3
                     WHERE EXISTS (SELECT 1 FROM leases WHERE name = $4 AND owner = $5 AND epoch = $6)
                     ON CONFLICT (operator) DO UPDATE
                         SET serving = EXCLUDED.serving, paused = EXCLUDED.paused, updated = now()",
                    &[&p.operator, &Json(&p.serving), &p.paused, &name, &owner, &epoch],
                )
                .await
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    /// Every operator's kept presence.
    pub async fn presences(&self) -> Result<Vec<PresenceRow>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c.query("SELECT operator, serving, paused FROM operator_presence", &[]).await.map_err(db)?;
            Ok(rows
                .iter()
                .map(|r| PresenceRow {
                    operator: r.get(0),
                    serving: r.get::<_, Json<Vec<String>>>(1).0,
                    paused: r.get(2),
                })
                .collect())
        })
        .await
    }

    /// Keep an operator's phone (replacing any other), taken by `node`.
    pub async fn put_phone(&self, phone: &PhoneRow, node: &str) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            c.execute(
                "INSERT INTO phone_bindings (operator, contact, source, transport, expires, node)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (operator) DO UPDATE SET contact = EXCLUDED.contact, source = EXCLUDED.source,
                     transport = EXCLUDED.transport, expires = EXCLUDED.expires, node = EXCLUDED.node",
                &[&phone.operator, &phone.contact, &phone.source, &phone.transport, &phone.expires, &node],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    /// Forget an operator's phone if `node` took its binding (another node may have a newer one).
    pub async fn remove_phone(&self, operator: &str, node: &str) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            c.execute("DELETE FROM phone_bindings WHERE operator = $1 AND node = $2", &[&operator, &node])
                .await
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    /// The phones not expired by the database's clock; one operator's, or everyone's.
    pub async fn phones(&self, operator: Option<&str>) -> Result<Vec<PhoneRow>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT operator, contact, source, transport, expires FROM phone_bindings
                     WHERE expires > now() AND ($1::text IS NULL OR operator = $1)",
                    &[&operator],
                )
                .await
                .map_err(db)?;
            Ok(rows
                .iter()
                .map(|r| PhoneRow {
                    operator: r.get(0),
                    contact: r.get(1),
                    source: r.get(2),
                    transport: r.get(3),
                    expires: r.get(4),
                })
                .collect())
        })
        .await
    }

    /// Say that node `name` (linked at `link`) is alive now.
    pub async fn node_seen(&self, name: &str, link: &str) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            c.execute(
                "INSERT INTO cluster_nodes (name, link, seen) VALUES ($1, $2, now())
                 ON CONFLICT (name) DO UPDATE SET link = EXCLUDED.link, seen = EXCLUDED.seen",
                &[&name, &link],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    /// The nodes that said they were alive within `within`: their names and link addresses.
    pub async fn live_nodes(&self, within_: Duration) -> Result<Vec<(String, String)>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT name, link FROM cluster_nodes WHERE seen > now() - make_interval(secs => $1) ORDER BY name",
                    &[&within_.as_secs_f64()],
                )
                .await
                .map_err(db)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
        .await
    }
}
