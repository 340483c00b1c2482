use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Row};

use super::records::{Message, MessageKind};
use super::{corrupt, SqliteTx, StoreError, WriteMode};

const COLUMNS: &str = "id, kind, to_addr, subject, body_text, body_html, code, link, template,
    created_at, status, delivered_by_clerk, delivered_via";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    let kind: String = r.get(1)?;
    Ok(Message {
        id: r.get(0)?,
        kind: MessageKind::try_from(kind.as_str()).map_err(corrupt)?,
        to: r.get(2)?,
        subject: r.get(3)?,
        body_text: r.get(4)?,
        body_html: r.get(5)?,
        code: r.get(6)?,
        link: r.get(7)?,
        template: r.get(8)?,
        created_at: r.get(9)?,
        status: r.get(10)?,
        delivered_by_clerk: r.get(11)?,
        delivered_via: r.get(12)?,
    })
}

/// Reads of captured email and SMS.
pub trait MessagesReads {
    fn message(&self, id: &str) -> Result<Option<Message>, StoreError>;

    /// Captured messages, newest first.
    fn messages(
        &self,
        to: Option<&str>,
        kind: Option<MessageKind>,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError>;
}

/// Changes to captured email and SMS.
pub trait MessagesWrites: MessagesReads {
    fn insert_message(&self, m: &Message) -> Result<(), StoreError>;

    /// Marks a message captured in the inbox (by its delivery job).
    fn capture_message(&self, id: &str, via: &str) -> Result<(), StoreError>;

    fn delete_messages(&self) -> Result<usize, StoreError>;
}

impl<M> MessagesReads for SqliteTx<'_, M> {
    fn message(&self, id: &str) -> Result<Option<Message>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .row(
                &format!("SELECT {COLUMNS} FROM messages WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    fn messages(
        &self,
        to: Option<&str>,
        kind: Option<MessageKind>,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let mut clauses = vec!["status = 'captured'"];
        let mut args = Vec::new();
        if let Some(to) = to {
            clauses.push("to_addr = ?");
            args.push(SqlValue::Text(to.to_owned()));
        }
        if let Some(kind) = kind {
            clauses.push("kind = ?");
            args.push(SqlValue::Text(kind.as_str().to_owned()));
        }
        let where_sql = format!("WHERE {}", clauses.join(" AND "));
        args.push(SqlValue::Integer(limit));
        let sql = format!(
            "SELECT {COLUMNS} FROM messages {where_sql} ORDER BY created_at DESC, rowid DESC LIMIT ?"
        );
        let mut stmt = self.0.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl MessagesWrites for SqliteTx<'_, WriteMode> {
    fn insert_message(&self, m: &Message) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO messages ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
            params![
                m.id,
                m.kind.as_str(),
                m.to,
                m.subject,
                m.body_text,
                m.body_html,
                m.code,
                m.link,
                m.template,
                m.created_at,
                m.status,
                m.delivered_by_clerk,
                m.delivered_via
            ],
        )?;
        Ok(())
    }

    fn capture_message(&self, id: &str, via: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE messages SET status = 'captured', delivered_via = ?2 WHERE id = ?1",
            params![id, via],
        )?;
        Ok(())
    }

    fn delete_messages(&self) -> Result<usize, StoreError> {
        Ok(self.exec("DELETE FROM messages", [])?)
    }
}
