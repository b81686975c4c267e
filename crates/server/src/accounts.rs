//! The accounts use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::refused::{Outcome, Refused};
use crate::state::AppState;
use keepwell_core::account::NewAccount;
use keepwell_core::health::Band;
use keepwell_core::{Invalid, LifecycleStage, Role};
use keepwell_store::accounts::{self, Account, AccountFilter, AccountSort};
use keepwell_store::import::{ImportSummary, RowError};
use keepwell_store::Store;

/// What the accounts list sorts by, by the name `sort` takes (ARR orders as MRR does: 12 × it).
pub const SORTS: [(&str, AccountSort); 11] = [
    ("name", AccountSort::Name),
    ("created_at", AccountSort::Created),
    ("updated_at", AccountSort::Updated),
    ("employees", AccountSort::Employees),
    ("mrr", AccountSort::Mrr),
    ("arr", AccountSort::Mrr),
    ("renews_on", AccountSort::Renewal),
    ("last_active_on", AccountSort::LastActive),
    ("score", AccountSort::Score),
    ("coverage", AccountSort::Coverage),
    ("owner", AccountSort::Owner),
];

/// Reads the list filters shared by the API and the accounts page.
pub fn filter_from(params: &Params, me: Option<i64>) -> Result<AccountFilter, Invalid> {
    let mut invalid = Invalid::default();
    let owner = params.owner(me, &mut invalid);
    let stage = params.parsed("stage", &mut invalid, |s| {
        LifecycleStage::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            format!(
                "unknown lifecycle stage {s:?}: expected one of {}",
                LifecycleStage::ALL.map(|s| s.as_str()).join(", ")
            )
        })
    });
    let sort_raw = params.text("sort").unwrap_or_else(|| "name".into());
    let (descending, key) = match sort_raw.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort_raw.as_str()),
    };
    let sort = match SORTS.iter().find(|(name, _)| *name == key) {
        Some((_, sort)) => *sort,
        None => {
            let names: Vec<&str> = SORTS.iter().map(|(n, _)| *n).collect();
            invalid.push("sort", format!("{key:?}: sort by {}, with - for descending", names.join(", ")));
            AccountSort::Name
        }
    };
    let limit = params.limit(&mut invalid);
    // A search or a filter value is a short text: a longer one is refused before any query.
    for field in ["q", "tag", "country"] {
        keepwell_core::limits::text(
            &mut invalid,
            field,
            params.text(field).as_deref(),
            keepwell_core::limits::SHORT_TEXT,
        );
    }
    let bands: Vec<(&str, Option<Band>)> = Band::ALL.iter().map(|b| (b.as_str(), Some(*b))).collect();
    let band = params.choice("band", &bands, None, &mut invalid);
    invalid.into_result(AccountFilter {
        q: params.text("q"),
        owner,
        stage,
        tag: params.text("tag"),
        country: params.text("country"),
        band,
        sort,
        descending,
        limit,
        cursor: params.text("cursor"),
    })
}

/// AccountPage: one page of accounts.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AccountPage {
    data: Vec<Account>,
    next_cursor: Option<String>,
}

pub async fn load(state: &AppState, id: i64) -> ApiResult<Account> {
    state.store.account(id).await?.ok_or_else(|| ApiError::NotFound(format!("no account with id {id}")))
}

/// Creates an account (or adopts the one a Segment group call made for one of its ids), then
/// gives it the events that waited for its ids. A CSM's new account is theirs, and only theirs.
pub async fn create(store: &Store, caller: &Caller, mut new: NewAccount) -> Outcome<Account> {
    if caller.role == Role::Csm {
        let named = match (&new.owner_id, &new.owner_email) {
            (Some(id), _) => Some(*id),
            (None, Some(email)) => store.user_by_email(email).await?.map(|u| u.id).or(Some(-1)),
            (None, None) => None,
        };
        if named.is_some_and(|id| Some(id) != caller.user_id) {
            return Err(Refused::Forbidden("a csm may create accounts only for themselves".into()));
        }
        new.owner_id = caller.user_id;
        new.owner_email = None;
    }
    let mut w = store.write(&caller.actor).await?;
    let account = accounts::create(&mut w, &new).await?;
    w.commit().await?;
    store.pick_up(&account.external_ids).await?;
    Ok(account)
}

/// Replaces an account's fields by whoever may edit it; only a manager hands it to someone else.
pub async fn update(store: &Store, caller: &Caller, id: i64, new: &NewAccount) -> Outcome<Account> {
    let mut w = store.write(&caller.actor).await?;
    let current = store_account(&mut w, id).await?;
    let owner = current.owner.as_ref().map(|o| o.id);
    caller.require_edit(owner)?;
    if caller.role == Role::Csm && (new.owner_id != owner || new.owner_email.is_some()) {
        return Err(Refused::Forbidden("a csm may not hand an account to someone else; ask a manager".into()));
    }
    let changed = accounts::update(&mut w, id, new).await?;
    w.commit().await?;
    store.pick_up(&changed.added_ids()).await?;
    Ok(changed.after)
}

/// Deletes an account with its contacts and external ids; returns it as it was.
pub async fn delete(store: &Store, caller: &Caller, id: i64) -> Outcome<Account> {
    let mut w = store.write(&caller.actor).await?;
    let current = store_account(&mut w, id).await?;
    caller.require_edit(current.owner.as_ref().map(|o| o.id))?;
    let gone = accounts::delete(&mut w, id).await?;
    w.commit().await?;
    Ok(gone)
}

/// Imports accounts all-or-nothing (a dry run checks everything and writes nothing), then gives
/// them the events that waited for their ids.
pub async fn import(
    store: &Store,
    caller: &Caller,
    rows: &[NewAccount],
    dry_run: bool,
    progress: impl FnMut(usize),
) -> Result<ImportSummary, RowError> {
    let mut summary =
        caller.import(store, (rows.len(), dry_run), async |w| accounts::import(w, rows, progress).await).await?;
    if !dry_run {
        let at_end = |error| RowError { index: rows.len(), error };
        // Events that waited for these ids (a Segment history imported first) reach them now.
        let ids: Vec<_> = rows.iter().flat_map(|r| r.external_ids.iter().cloned()).collect();
        summary.attributed = store.pick_up(&ids).await.map_err(at_end)?.events;
    }
    Ok(summary)
}

/// The account as the write sees it.
async fn store_account(w: &mut keepwell_store::Write, id: i64) -> Outcome<Account> {
    accounts::load(w, id).await.map_err(Refused::from)
}

/// The most accounts one bulk action changes: a filter matching more is refused, not cut short.
pub const BULK_MAX: usize = 5_000;

/// What a bulk action does to each account.
#[derive(Debug, Clone)]
pub enum Bulk {
    /// Makes this member the owner (a manager's or an admin's action).
    Owner(i64),
    /// Adds this tag.
    Tag(String),
    /// Opens this task on each account (owner: the account's, unless the draft names one).
    Task(keepwell_core::task::Draft),
}

/// What a bulk action did: every account asked for is counted once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BulkReport {
    /// Accounts the action reached.
    pub matched: usize,
    pub changed: usize,
    /// Accounts that already were as asked (the owner already, the tag already, a task of the
    /// same title already open from this bulk action asked again).
    pub unchanged: usize,
    /// Accounts the caller may not change, left as they were.
    pub refused: usize,
    /// Why they were refused, when some were.
    pub refused_reason: Option<String>,
}

/// Which accounts a bulk action reaches: those chosen, or every one matching a filter.
pub async fn bulk_targets(store: &Store, chosen: &[i64], filter: Option<&AccountFilter>) -> Outcome<Vec<i64>> {
    let mut ids = match filter {
        Some(f) => store.account_ids(f, BULK_MAX + 1).await?,
        None => chosen.to_vec(),
    };
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(Refused::Invalid(Invalid::field("ids", "choose at least one account")));
    }
    if ids.len() > BULK_MAX {
        let field = if filter.is_some() { "all" } else { "ids" };
        return Err(Refused::Invalid(Invalid::field(
            field,
            format!("a bulk action changes at most {BULK_MAX} accounts at once; narrow the filter"),
        )));
    }
    Ok(ids)
}

/// Does `action` to each of `ids` the caller may change, all in one write (all or nothing);
/// the accounts they may not change are counted and left alone. An id that is no account is
/// the input's fault.
pub async fn bulk(store: &Store, caller: &Caller, ids: &[i64], action: &Bulk) -> Outcome<BulkReport> {
    if caller.role < Role::Csm {
        return Err(Refused::Forbidden(format!("a {} reads accounts but does not change them", caller.role)));
    }
    let action = match action {
        Bulk::Tag(t) => Bulk::Tag(bulk_tag(t)?),
        Bulk::Owner(id) => {
            if caller.role < Role::Manager {
                return Err(Refused::Forbidden("a csm may not hand accounts to someone else; ask a manager".into()));
            }
            match store.user(*id).await? {
                Some(u) if !u.disabled && u.role >= Role::Csm => Bulk::Owner(*id),
                _ => {
                    return Err(Refused::Invalid(Invalid::field("owner_id", "is not an active CSM, manager or admin")))
                }
            }
        }
        other => other.clone(),
    };
    // A task goes to the account's owner while they can work it, else to the one acting.
    let workers: std::collections::HashSet<i64> =
        store.users().await?.iter().filter(|u| !u.disabled && u.role >= Role::Csm).map(|u| u.id).collect();
    let mut w = store.write(&caller.actor).await?;
    let today = keepwell_store::instant(w.at()).date_naive();
    let mut report = BulkReport { matched: ids.len(), ..Default::default() };
    for id in ids {
        let account = accounts::load(&mut w, *id).await.map_err(|e| match e {
            keepwell_store::StoreError::NotFound(_) => {
                Refused::Invalid(Invalid::field("ids", format!("no account has the id {id}")))
            }
            other => other.into(),
        })?;
        let owner = account.owner.as_ref().map(|o| o.id);
        if let Err(why) = caller.require_edit(owner) {
            report.refused += 1;
            report.refused_reason.get_or_insert_with(|| why.to_string());
            continue;
        }
        let changed = match &action {
            Bulk::Owner(member) => {
                let done = owner != Some(*member);
                accounts::set_owner(&mut w, *id, *member).await?;
                done
            }
            Bulk::Tag(tag) => {
                let done = !account.tags.contains(tag);
                if done && account.tags.len() >= keepwell_core::limits::TAGS {
                    return Err(Refused::Invalid(Invalid::field(
                        "tag",
                        format!("{} already has {} tags, the most an account holds", account.name, account.tags.len()),
                    )));
                }
                accounts::set_tag(&mut w, *id, tag, true).await?;
                done
            }
            Bulk::Task(draft) => {
                // Asked twice (a second click, the same action again), it updates the open task.
                let source = draft
                    .title
                    .as_ref()
                    .map(|t| format!("bulk:{id}:{}", t.trim().to_lowercase().chars().take(100).collect::<String>()));
                let draft = keepwell_core::task::Draft {
                    account_id: Some(*id),
                    owner_id: draft.owner_id.or(owner.filter(|o| workers.contains(o))).or(caller.user_id),
                    // Never the caller's own source: one source is one open task, workspace-wide.
                    source,
                    ..draft.clone()
                };
                let input = draft.validate(today).map_err(Refused::Invalid)?;
                keepwell_store::tasks::open(&mut w, &input, None).await?.1
            }
        };
        if changed {
            report.changed += 1;
        } else {
            report.unchanged += 1;
        }
    }
    w.commit().await?;
    Ok(report)
}

/// A tag as accounts keep them: trimmed, lower case, within the limit.
fn bulk_tag(raw: &str) -> Outcome<String> {
    use keepwell_core::limits;
    let tag = raw.trim().to_lowercase();
    let problem = if tag.is_empty() {
        Some("is required".to_owned())
    } else if tag.contains([',', ';']) {
        // The export joins tags with commas and an import splits on both.
        Some("may not hold a comma or a semicolon".to_owned())
    } else {
        limits::tag(&tag)
    };
    match problem {
        Some(p) => Err(Refused::Invalid(Invalid::field("tag", p))),
        None => Ok(tag),
    }
}

/// Every account matching `filter` (its order, not its cursor or limit) as CSV in the format
/// `keepwell import accounts` reads: the CRM id as `external_id`, the profile, the owner's
/// e-mail, the tags, the figures and a column per custom attribute (`attribute.NAME`).
pub async fn export_csv(store: &Store, filter: &AccountFilter) -> Outcome<Vec<u8>> {
    let mut filter = AccountFilter { limit: 500, cursor: None, ..filter.clone() };
    let mut rows: Vec<Account> = Vec::new();
    loop {
        let page = store.accounts(&filter).await?;
        rows.extend(page.data);
        match page.next_cursor {
            Some(c) => filter.cursor = Some(c),
            None => break,
        }
    }
    let attributes: std::collections::BTreeSet<&String> = rows.iter().flat_map(|a| a.attributes.keys()).collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let import_columns = keepwell_core::import::ImportKind::Accounts.fields();
    let header = import_columns
        .iter()
        .map(|c| (*c).to_owned())
        .chain(keepwell_core::import::ACCOUNT_FIGURES.iter().map(|c| (*c).to_owned()))
        .chain(attributes.iter().map(|a| format!("attribute.{a}")));
    let csv_error = |e: csv::Error| Refused::Failed(keepwell_store::StoreError::Corrupt(format!("the export: {e}")));
    out.write_record(header).map_err(csv_error)?;
    for a in &rows {
        let input = crate::input::account_as_input(a);
        let mut record: Vec<String> = import_columns.iter().map(|c| import_cell(a, &input, c)).collect();
        let f = a.figures.clone().unwrap_or_default();
        let text = |v: Option<String>| v.unwrap_or_default();
        record.extend([
            text(f.mrr),
            text(f.arr),
            text(f.currency),
            text(f.renews_on.map(|d| d.to_string())),
            text(f.last_active_on.map(|d| d.to_string())),
            text(f.score.map(|s| s.to_string())),
            text(f.band),
            text(f.coverage.map(|c| c.to_string())),
        ]);
        record.extend(attributes.iter().map(|k| a.attributes.get(*k).map(|v| v.display()).unwrap_or_default()));
        out.write_record(&record).map_err(csv_error)?;
    }
    out.into_inner().map_err(|e| Refused::Failed(keepwell_store::StoreError::Corrupt(format!("the export: {e}"))))
}

/// One cell of the import format for an account (its profile as the account form reads it).
fn import_cell(a: &Account, input: &keepwell_core::account::AccountInput, column: &str) -> String {
    match column {
        "external_id" => a.external_ids.iter().find(|e| e.kind == "crm").map(|e| e.value.clone()).unwrap_or_default(),
        "owner_email" => a.owner.as_ref().map(|o| o.email.clone()).unwrap_or_default(),
        "tags" => a.tags.join(", "),
        profile => input.profile(profile).unwrap_or_default().to_owned(),
    }
}
