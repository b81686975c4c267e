//! CSV import planning: which column feeds which field, so a HubSpot or Salesforce export imports
//! without editing. Known columns fill fields, `--map "Source=target"` renames, unknown columns
//! become custom attributes, and an empty target ignores a column.

use crate::account::{split_tags, AccountInput};
use crate::attribute::AttrValue;
use crate::billing::{FxRateInput, InvoiceInput, PeriodInput};
use crate::contact::ContactInput;
use crate::interaction::ImportRow;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Accounts,
    Contacts,
    Subscriptions,
    Invoices,
    FxRates,
    Interactions,
}

/// The accounts file's columns: its CRM id, the profile fields, the owner and the tags.
const ACCOUNT_COLUMNS: [&str; 10] = crate::account::around_profile(&["external_id"], &["owner_email", "tags"]);

/// The columns an accounts export adds after the import format's: what Keepwell reckons. An
/// import reads past them (they are not a CRM's to set), so an export reads back as it was.
pub const ACCOUNT_FIGURES: [&str; 8] =
    ["mrr", "arr", "currency", "renews_on", "last_active_on", "health_score", "health_band", "coverage"];

impl ImportKind {
    /// The documented column names, in the documented order.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            ImportKind::Accounts => &ACCOUNT_COLUMNS,
            ImportKind::Contacts => {
                &["account_external_id", "email", "name", "title", "role", "locale", "external_user_id"]
            }
            ImportKind::Subscriptions => &[
                "account_external_id",
                "subscription_id",
                "plan",
                "quantity",
                "currency",
                "amount",
                "interval",
                "starts_on",
                "ends_on",
                "renews_on",
                "payment_terms",
                "term_months",
            ],
            ImportKind::Invoices => {
                &["account_external_id", "invoice_id", "currency", "amount", "issued_on", "due_on", "paid_on", "status"]
            }
            ImportKind::FxRates => &["currency", "month", "rate"],
            ImportKind::Interactions => &[
                "account_external_id",
                "occurred_at",
                "kind",
                "subject",
                "body",
                "contact_email",
                "user_email",
                "external_id",
            ],
        }
    }

    /// The columns a file must have.
    fn required(self) -> &'static [&'static str] {
        match self {
            ImportKind::Accounts => &["name"],
            ImportKind::Contacts => &["email", "account_external_id"],
            ImportKind::Subscriptions => &[
                "account_external_id",
                "subscription_id",
                "plan",
                "quantity",
                "currency",
                "amount",
                "interval",
                "starts_on",
                "ends_on",
            ],
            ImportKind::Invoices => {
                &["account_external_id", "invoice_id", "currency", "amount", "issued_on", "due_on", "paid_on", "status"]
            }
            ImportKind::FxRates => &["currency", "month", "rate"],
            ImportKind::Interactions => &["account_external_id", "occurred_at", "kind"],
        }
    }

    /// Billing files have a fixed format: an unknown column is a mistake, not an attribute.
    fn takes_attributes(self) -> bool {
        matches!(self, ImportKind::Accounts | ImportKind::Contacts)
    }

    pub fn parse(name: &str) -> Option<ImportKind> {
        Some(match name {
            "accounts" => ImportKind::Accounts,
            "contacts" => ImportKind::Contacts,
            "subscriptions" => ImportKind::Subscriptions,
            "invoices" => ImportKind::Invoices,
            "fx_rates" | "fx-rates" => ImportKind::FxRates,
            "interactions" => ImportKind::Interactions,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ImportKind::Accounts => "accounts",
            ImportKind::Contacts => "contacts",
            ImportKind::Subscriptions => "subscriptions",
            ImportKind::Invoices => "invoices",
            ImportKind::FxRates => "fx_rates",
            ImportKind::Interactions => "interactions",
        }
    }
}

/// Where one CSV column goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Field(&'static str),
    Attribute(String),
    Ignored,
}

/// The plan for a file: one entry per header column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnPlan {
    pub headers: Vec<String>,
    pub columns: Vec<Column>,
}

/// Parses `--map` arguments: `"Company name=name"`, `"Notes="` (ignore).
pub fn parse_mapping(args: &[String]) -> Result<Vec<(String, String)>, String> {
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(s, t)| (s.trim().to_owned(), t.trim().to_owned()))
                .filter(|(s, _)| !s.is_empty())
                .ok_or_else(|| format!("--map {a:?}: expected \"Source column=field\""))
        })
        .collect()
}

impl ColumnPlan {
    pub fn new(kind: ImportKind, headers: &[String], mapping: &[(String, String)]) -> Result<ColumnPlan, String> {
        let fields = kind.fields();
        for (source, _) in mapping {
            if !headers.iter().any(|h| h.trim().eq_ignore_ascii_case(source)) {
                return Err(format!("--map names column {source:?}, which the header row does not have"));
            }
        }
        // A file an accounts export wrote carries every figure column: those are read past. Another
        // file's `currency` or `coverage` column is a custom attribute, as before.
        let exported = kind == ImportKind::Accounts
            && ACCOUNT_FIGURES.iter().all(|f| headers.iter().any(|h| h.trim().eq_ignore_ascii_case(f)));
        let mut columns = Vec::with_capacity(headers.len());
        for header in headers {
            let header = header.trim();
            let target =
                mapping.iter().find(|(s, _)| s.eq_ignore_ascii_case(header)).map(|(_, t)| t.as_str()).unwrap_or(header);
            let reckoned = exported && ACCOUNT_FIGURES.iter().any(|f| f.eq_ignore_ascii_case(target));
            let column = if target.is_empty() || reckoned {
                Column::Ignored
            } else if let Some(f) = fields.iter().find(|f| f.eq_ignore_ascii_case(target)) {
                Column::Field(f)
            } else if !kind.takes_attributes() {
                return Err(format!(
                    "column {header:?} is not part of the {} format ({}); rename it with --map or drop it with --map \"{header}=\"",
                    kind.name(),
                    fields.join(",")
                ));
            } else {
                let name = target.strip_prefix("attribute.").unwrap_or(target);
                crate::attribute::check_name(name).map_err(|e| format!("column {header:?}: {e}"))?;
                Column::Attribute(name.to_owned())
            };
            if column != Column::Ignored && columns.contains(&column) {
                return Err(format!("two columns map to {target:?}"));
            }
            columns.push(column);
        }
        for required in kind.required() {
            if !columns.contains(&Column::Field(required)) {
                return Err(format!("no column maps to {required:?}; add one or use --map \"Your column={required}\""));
            }
        }
        Ok(ColumnPlan { headers: headers.to_vec(), columns })
    }

    /// The 1-based column number and header that feed a validation error's field.
    pub fn column_of(&self, field: &str) -> Option<(usize, &str)> {
        let field = match field {
            f if f.starts_with("external_ids") => "external_id",
            f => f,
        };
        self.columns.iter().enumerate().find_map(|(i, c)| {
            let hit = match c {
                Column::Field(f) => *f == field,
                Column::Attribute(a) => field.strip_prefix("attributes.") == Some(a.as_str()),
                Column::Ignored => false,
            };
            hit.then(|| (i + 1, self.headers[i].as_str()))
        })
    }

    fn cells<'a>(&'a self, record: &'a [&'a str]) -> impl Iterator<Item = (&'a Column, &'a str)> + 'a {
        self.columns.iter().zip(record.iter().copied().chain(std::iter::repeat("")))
    }

    /// One CSV record as an account.
    pub fn account(&self, record: &[&str]) -> AccountInput {
        let mut a = AccountInput::default();
        for (column, cell) in self.cells(record) {
            let text = Some(cell.to_owned()).filter(|c| !c.trim().is_empty());
            match column {
                Column::Field("external_id") => {
                    if let Some(v) = text {
                        a.external_ids.push(("crm".into(), v))
                    }
                }
                Column::Field("owner_email") => a.owner_email = text,
                Column::Field("tags") => a.tags = split_tags(cell),
                Column::Attribute(name) => a.attributes.push((name.clone(), AttrValue::infer(cell))),
                Column::Field(field) => {
                    a.set_profile(field, text);
                }
                _ => {}
            }
        }
        a
    }

    /// The named fields of one record (billing files: no attributes).
    pub fn values(&self, record: &[&str]) -> std::collections::HashMap<&'static str, String> {
        self.cells(record)
            .filter_map(|(c, cell)| match c {
                Column::Field(f) if !cell.trim().is_empty() => Some((*f, cell.to_owned())),
                _ => None,
            })
            .collect()
    }

    pub fn period(&self, record: &[&str]) -> PeriodInput {
        let mut v = self.values(record);
        let mut take = |k: &str| v.remove(k);
        PeriodInput {
            account_external_id: take("account_external_id"),
            subscription_id: take("subscription_id"),
            plan: take("plan"),
            quantity: take("quantity"),
            currency: take("currency"),
            amount: take("amount"),
            interval: take("interval"),
            starts_on: take("starts_on"),
            ends_on: take("ends_on"),
            renews_on: take("renews_on"),
            payment_terms: take("payment_terms"),
            term_months: take("term_months"),
        }
    }

    pub fn invoice(&self, record: &[&str]) -> InvoiceInput {
        let mut v = self.values(record);
        let mut take = |k: &str| v.remove(k);
        InvoiceInput {
            account_external_id: take("account_external_id"),
            invoice_id: take("invoice_id"),
            currency: take("currency"),
            amount: take("amount"),
            issued_on: take("issued_on"),
            due_on: take("due_on"),
            paid_on: take("paid_on"),
            status: take("status"),
        }
    }

    pub fn fx_rate(&self, record: &[&str]) -> FxRateInput {
        let mut v = self.values(record);
        FxRateInput { currency: v.remove("currency"), month: v.remove("month"), rate: v.remove("rate") }
    }

    pub fn interaction(&self, record: &[&str]) -> ImportRow {
        let mut v = self.values(record);
        let mut take = |k: &str| v.remove(k);
        ImportRow {
            account_external_id: take("account_external_id"),
            occurred_at: take("occurred_at"),
            kind: take("kind"),
            subject: take("subject"),
            body: take("body"),
            contact_email: take("contact_email"),
            user_email: take("user_email"),
            external_id: take("external_id"),
        }
    }

    /// One CSV record as a contact.
    pub fn contact(&self, record: &[&str]) -> ContactInput {
        let mut c = ContactInput::default();
        for (column, cell) in self.cells(record) {
            let text = Some(cell.to_owned()).filter(|c| !c.trim().is_empty());
            match column {
                Column::Field("account_external_id") => c.account_external_id = text,
                Column::Field("email") => c.email = text,
                Column::Field("name") => c.name = text,
                Column::Field("title") => c.title = text,
                Column::Field("role") => c.role = text,
                Column::Field("locale") => c.locale = text,
                Column::Field("external_user_id") => c.external_user_ids.extend(text),
                Column::Attribute(name) => c.attributes.push((name.clone(), AttrValue::infer(cell))),
                _ => {}
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_hubspot_export_imports_with_a_map() {
        let h = headers(&[
            "Record ID",
            "Company name",
            "Company Domain Name",
            "Number of Employees",
            "Lead Status",
            "Notes",
        ]);
        let map = parse_mapping(&[
            "Record ID=external_id".into(),
            "Company name=name".into(),
            "Company Domain Name=domain".into(),
            "Number of Employees=employees".into(),
            "Notes=".into(),
        ])
        .unwrap();
        let plan = ColumnPlan::new(ImportKind::Accounts, &h, &map).unwrap();
        let a = plan.account(&["123", "Acme", "acme.com", "50", "Open", "secret"]);
        assert_eq!(a.name.as_deref(), Some("Acme"));
        assert_eq!(a.external_ids, vec![("crm".to_string(), "123".to_string())]);
        assert_eq!(a.attributes, vec![("Lead Status".to_string(), Some(AttrValue::Text("Open".into())))]);
        assert_eq!(plan.column_of("employees"), Some((4, "Number of Employees")));
        assert_eq!(plan.column_of("external_ids[0]"), Some((1, "Record ID")));
        assert_eq!(plan.column_of("attributes.Lead Status"), Some((5, "Lead Status")));
    }

    #[test]
    fn missing_name_column_is_explained() {
        let err = ColumnPlan::new(ImportKind::Accounts, &headers(&["Company"]), &[]).unwrap_err();
        assert!(err.contains("--map \"Your column=name\""), "{err}");
        let err = parse_mapping(&["nonsense".into()]).unwrap_err();
        assert!(err.contains("Source column=field"));
        let err =
            ColumnPlan::new(ImportKind::Accounts, &headers(&["name"]), &[("Nope".into(), "name".into())]).unwrap_err();
        assert!(err.contains("\"Nope\""));
    }

    /// The figure columns are read past only in a file an export wrote (it has all of them);
    /// another file's `currency` column is a custom attribute, as it always was.
    #[test]
    fn figure_columns_are_skipped_only_in_an_export() {
        let headers = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let crm = ColumnPlan::new(ImportKind::Accounts, &headers(&["name", "currency"]), &[]).unwrap();
        assert_eq!(crm.columns[1], Column::Attribute("currency".into()));
        let mut exported = vec!["name"];
        exported.extend(ACCOUNT_FIGURES);
        let export = ColumnPlan::new(ImportKind::Accounts, &headers(&exported), &[]).unwrap();
        assert!(export.columns[1..].iter().all(|c| *c == Column::Ignored));
    }
}
