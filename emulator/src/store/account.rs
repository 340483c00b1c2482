//! What `/v1/me` account management keeps beside users: the pending codes of identifications
//! added to an account, profile images (their bytes), and each session's latest activity. Also
//! the removal of one identification.

use rusqlite::{params, OptionalExtension, Row};

use super::records::{
    Identification, ImageRecord, PendingCode, SessionActivity, UserRecord, UserWithIdents,
};
use super::{SqliteTx, StoreError, WriteMode};

/// Reads of account extras.
pub trait AccountReads {
    /// The pending code of an identification not verified yet.
    fn ident_code(&self, ident_id: &str) -> Result<Option<PendingCode>, StoreError>;

    /// One image, bytes and all.
    fn image(&self, id: &str) -> Result<Option<ImageRecord>, StoreError>;

    /// The user's profile image, if any.
    fn image_of_user(&self, user_id: &str) -> Result<Option<ImageRecord>, StoreError>;

    fn session_activity(&self, session_id: &str) -> Result<Option<SessionActivity>, StoreError>;
}

/// Changes to account extras.
pub trait AccountWrites: AccountReads {
    /// Stores the code of `p.identification_id` (of `user_id`), replacing an earlier one.
    fn save_ident_code(&self, user_id: &str, p: &PendingCode) -> Result<(), StoreError>;

    fn delete_ident_code(&self, ident_id: &str) -> Result<(), StoreError>;

    /// Deletes one identification (with its pending code); whether it existed.
    fn delete_ident(&self, id: &str) -> Result<bool, StoreError>;

    /// Makes `image` its user's profile image, replacing the one before.
    fn save_image(&self, image: &ImageRecord) -> Result<(), StoreError>;

    /// Deletes the user's profile image; whether there was one.
    fn delete_image_of_user(&self, user_id: &str) -> Result<bool, StoreError>;

    fn save_session_activity(&self, a: &SessionActivity) -> Result<(), StoreError>;
}

fn parse_code(id: &str, text: &str) -> Result<PendingCode, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("code of identification {id}: {e}")))
}

pub(super) fn code_text(p: &PendingCode) -> Result<(&str, String), StoreError> {
    let id = p
        .identification_id
        .as_deref()
        .ok_or_else(|| StoreError::Corrupt("a pending code without its identification".into()))?;
    let text = serde_json::to_string(p).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok((id, text))
}

const IMAGE_COLUMNS: &str = "id, user_id, name, content_type, data, created_at";

fn image_from_row(r: &Row<'_>) -> rusqlite::Result<ImageRecord> {
    Ok(ImageRecord {
        id: r.get(0)?,
        user_id: r.get(1)?,
        name: r.get(2)?,
        content_type: r.get(3)?,
        data: r.get(4)?,
        created_at: r.get(5)?,
    })
}

impl<M> SqliteTx<'_, M> {
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
            let mut stmt = self.0.prepare_cached(
                "SELECT identification_id, state FROM identification_codes WHERE user_id = ?1",
            )?;
            let rows = stmt.query_map([&u.user.id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (id, text) = row?;
                u.pending_codes.push(parse_code(&id, &text)?);
            }
        }
        Ok(u)
    }
}

impl<M> AccountReads for SqliteTx<'_, M> {
    fn ident_code(&self, ident_id: &str) -> Result<Option<PendingCode>, StoreError> {
        let text: Option<String> = self
            .row(
                "SELECT state FROM identification_codes WHERE identification_id = ?1",
                [ident_id],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| parse_code(ident_id, &t)).transpose()
    }

    fn image(&self, id: &str) -> Result<Option<ImageRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?1"),
                [id],
                image_from_row,
            )
            .optional()?)
    }

    fn image_of_user(&self, user_id: &str) -> Result<Option<ImageRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE user_id = ?1"),
                [user_id],
                image_from_row,
            )
            .optional()?)
    }

    fn session_activity(&self, session_id: &str) -> Result<Option<SessionActivity>, StoreError> {
        Ok(self
            .row(
                "SELECT session_id, ip_address, user_agent, updated_at FROM session_activities
                 WHERE session_id = ?1",
                [session_id],
                |r| {
                    Ok(SessionActivity {
                        session_id: r.get(0)?,
                        ip_address: r.get(1)?,
                        user_agent: r.get(2)?,
                        updated_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }
}

impl AccountWrites for SqliteTx<'_, WriteMode> {
    fn save_ident_code(&self, user_id: &str, p: &PendingCode) -> Result<(), StoreError> {
        let (id, text) = code_text(p)?;
        self.exec(
            "INSERT INTO identification_codes (identification_id, user_id, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (identification_id) DO UPDATE SET state = excluded.state",
            params![id, user_id, text],
        )?;
        Ok(())
    }

    fn delete_ident_code(&self, ident_id: &str) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM identification_codes WHERE identification_id = ?1",
            [ident_id],
        )?;
        Ok(())
    }

    fn delete_ident(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM identifications WHERE id = ?1", [id])? > 0)
    }

    fn save_image(&self, i: &ImageRecord) -> Result<(), StoreError> {
        self.exec("DELETE FROM images WHERE user_id = ?1", [&i.user_id])?;
        self.exec(
            &format!("INSERT INTO images ({IMAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                i.id,
                i.user_id,
                i.name,
                i.content_type,
                i.data,
                i.created_at
            ],
        )?;
        Ok(())
    }

    fn delete_image_of_user(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM images WHERE user_id = ?1", [user_id])? > 0)
    }

    fn save_session_activity(&self, a: &SessionActivity) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO session_activities (session_id, ip_address, user_agent, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (session_id) DO UPDATE SET ip_address = excluded.ip_address,
             user_agent = excluded.user_agent, updated_at = excluded.updated_at",
            params![a.session_id, a.ip_address, a.user_agent, a.updated_at],
        )?;
        Ok(())
    }
}
