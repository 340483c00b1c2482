//! The account extras of `store/account.rs` over PostgreSQL (pending identification codes,
//! profile images, session activities), with the same meaning as the SQLite bodies.

use tokio_postgres::Row;

use super::{Mode, PgTx, WriteMode};
use crate::store::account::{code_text, AccountReads, AccountWrites};
use crate::store::records::{
    Identification, ImageRecord, PendingCode, SessionActivity, UserRecord, UserWithIdents,
};
use crate::store::StoreError;

fn parse_code(id: &str, text: &str) -> Result<PendingCode, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("code of identification {id}: {e}")))
}

const IMAGE_COLUMNS: &str = "id, user_id, name, content_type, data, created_at";

fn image_from_row(r: &Row) -> Result<ImageRecord, StoreError> {
    Ok(ImageRecord {
        id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        name: r.try_get(2)?,
        content_type: r.try_get(3)?,
        data: r.try_get(4)?,
        created_at: r.try_get(5)?,
    })
}

#[allow(private_bounds)]
impl<M: Mode> PgTx<'_, M> {
    /// A loaded user with their image id and, when some identification is unverified, its
    /// pending codes (no statement for users whose identifications are all verified).
    pub(super) fn with_account(
        &self,
        user: UserRecord,
        idents: Vec<Identification>,
        image_id: Option<String>,
    ) -> Result<UserWithIdents, StoreError> {
        let mut u = UserWithIdents::new(user, idents);
        u.image_id = image_id;
        if u.idents.iter().any(|i| !i.verified) {
            for r in self.rows(
                "SELECT identification_id, state FROM identification_codes WHERE user_id = $1",
                &[&u.user.id],
            )? {
                let id: String = r.try_get(0)?;
                let text: String = r.try_get(1)?;
                u.pending_codes.push(parse_code(&id, &text)?);
            }
        }
        Ok(u)
    }
}

impl<M: Mode> AccountReads for PgTx<'_, M> {
    fn ident_code(&self, ident_id: &str) -> Result<Option<PendingCode>, StoreError> {
        match self.opt(
            "SELECT state FROM identification_codes WHERE identification_id = $1",
            &[&ident_id],
        )? {
            Some(r) => Ok(Some(parse_code(ident_id, &r.try_get::<_, String>(0)?)?)),
            None => Ok(None),
        }
    }

    fn image(&self, id: &str) -> Result<Option<ImageRecord>, StoreError> {
        self.opt(
            &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = $1"),
            &[&id],
        )?
        .map(|r| image_from_row(&r))
        .transpose()
    }

    fn image_of_user(&self, user_id: &str) -> Result<Option<ImageRecord>, StoreError> {
        self.opt(
            &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE user_id = $1"),
            &[&user_id],
        )?
        .map(|r| image_from_row(&r))
        .transpose()
    }

    fn session_activity(&self, session_id: &str) -> Result<Option<SessionActivity>, StoreError> {
        self.opt(
            "SELECT session_id, ip_address, user_agent, updated_at FROM session_activities
             WHERE session_id = $1",
            &[&session_id],
        )?
        .map(|r| {
            Ok(SessionActivity {
                session_id: r.try_get(0)?,
                ip_address: r.try_get(1)?,
                user_agent: r.try_get(2)?,
                updated_at: r.try_get(3)?,
            })
        })
        .transpose()
    }
}

impl AccountWrites for PgTx<'_, WriteMode> {
    fn save_ident_code(&self, user_id: &str, p: &PendingCode) -> Result<(), StoreError> {
        let (id, text) = code_text(p)?;
        self.exec(
            "INSERT INTO identification_codes (identification_id, user_id, state) VALUES ($1, $2, $3)
             ON CONFLICT (identification_id) DO UPDATE SET state = excluded.state",
            &[&id, &user_id, &text],
        )?;
        Ok(())
    }

    fn delete_ident_code(&self, ident_id: &str) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM identification_codes WHERE identification_id = $1",
            &[&ident_id],
        )?;
        Ok(())
    }

    fn delete_ident(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM identifications WHERE id = $1", &[&id])? > 0)
    }

    fn save_image(&self, i: &ImageRecord) -> Result<(), StoreError> {
        self.exec("DELETE FROM images WHERE user_id = $1", &[&i.user_id])?;
        self.exec(
            &format!("INSERT INTO images ({IMAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[
                &i.id,
                &i.user_id,
                &i.name,
                &i.content_type,
                &i.data,
                &i.created_at,
            ],
        )?;
        Ok(())
    }

    fn delete_image_of_user(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM images WHERE user_id = $1", &[&user_id])? > 0)
    }

    fn save_session_activity(&self, a: &SessionActivity) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO session_activities (session_id, ip_address, user_agent, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id) DO UPDATE SET ip_address = excluded.ip_address,
             user_agent = excluded.user_agent, updated_at = excluded.updated_at",
            &[&a.session_id, &a.ip_address, &a.user_agent, &a.updated_at],
        )?;
        Ok(())
    }
}
