//! Edits of the config's provisioning sections (`[[trunks]]`, `[[dids]]`, `[[queues]]`,
//! `[[agents]]`) for the REST API, on the config's own text with `toml_edit`: every
//! comment, blank line and key order of the rest of the file stays as the operator
//! wrote it, so the file the API writes is still the operator's file.
//!
//! An entry is one table of its array, as JSON: `{"name": "carrier-b", "address":
//! "127.0.0.1:5090"}` is `[[trunks]]` with those two keys. Values map one to one
//! (strings, integers, booleans, arrays, objects as inline tables); `null` leaves the
//! key out. Whether the result is a valid config is not decided here: the caller parses
//! it with [`super::parse`], the same checks `dcx check-config` runs.

use serde_json::{Map, Value as Json};
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

/// One of the sections the API manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `[[trunks]]`, by `name`.
    Trunks,
    /// `[[dids]]`, by `number`, or by `prefix` followed by `*`.
    Dids,
    /// `[[queues]]`, by `name`.
    Queues,
    /// `[[agents]]`, by `user`.
    Agents,
}

impl Section {
    /// The array's key in the file.
    pub fn key(self) -> &'static str {
        match self {
            Self::Trunks => "trunks",
            Self::Dids => "dids",
            Self::Queues => "queues",
            Self::Agents => "agents",
        }
    }

    /// One entry, in messages.
    pub fn singular(self) -> &'static str {
        match self {
            Self::Trunks => "trunk",
            Self::Dids => "DID",
            Self::Queues => "queue",
            Self::Agents => "agent",
        }
    }

    /// The key that names an entry (`number` or `prefix` for DIDs).
    fn id_key(self) -> &'static str {
        match self {
            Self::Trunks | Self::Queues => "name",
            Self::Dids => "number",
            Self::Agents => "user",
        }
    }

    /// An entry's id: its name; a DID's `number`, or its `prefix` and `*`.
    fn id_of(self, get: impl Fn(&str) -> Option<String>) -> Option<String> {
        match self {
            Self::Dids => get("number").or_else(|| get("prefix").map(|p| format!("{p}*"))),
            _ => get(self.id_key()),
        }
    }

    /// The id of a JSON entry.
    pub fn id_of_json(self, entry: &Map<String, Json>) -> Option<String> {
        self.id_of(|k| entry.get(k).and_then(Json::as_str).map(str::to_owned))
    }

    fn id_of_table(self, t: &Table) -> Option<String> {
        self.id_of(|k| t.get(k).and_then(Item::as_str).map(str::to_owned))
    }

    /// Makes `entry` carry `id` (a `PUT` to `/.../{id}` whose body leaves it out); an
    /// id in the body that differs is an error.
    pub fn set_id(self, entry: &mut Map<String, Json>, id: &str) -> Result<(), EditError> {
        match self.id_of_json(entry) {
            Some(own) if own == id => Ok(()),
            Some(own) => Err(EditError::Body(format!(
                "the body names {} {own:?}, the path {id:?}: renaming is a delete and a create",
                self.singular()
            ))),
            None => {
                let (key, value) = match (self, id.strip_suffix('*')) {
                    (Self::Dids, Some(prefix)) => ("prefix", prefix),
                    _ => (self.id_key(), id),
                };
                // First, where an entry's name is in the file.
                let rest = std::mem::take(entry);
                entry.insert(key.to_owned(), Json::String(value.to_owned()));
                entry.extend(rest);
                Ok(())
            }
        }
    }
}

/// Why an edit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// No entry has that id.
    #[error("{0}")]
    NotFound(String),
    /// An entry with that id is there already.
    #[error("{0}")]
    Exists(String),
    /// The body is not an entry.
    #[error("{0}")]
    Body(String),
    /// The config's own text does not parse (it was valid when loaded: changed on disk).
    #[error("the config does not parse: {0}")]
    Text(String),
}

/// The config text, open for edits.
pub struct ConfigDoc(DocumentMut);

impl ConfigDoc {
    /// Opens `text`.
    pub fn parse(text: &str) -> Result<Self, EditError> {
        text.parse::<DocumentMut>()
            .map(Self)
            .map_err(|e| EditError::Text(e.to_string()))
    }

    /// The text with the edits made.
    pub fn text(&self) -> String {
        self.0.to_string()
    }

    /// Every entry of `section`, as JSON, in file order.
    pub fn list(&self, section: Section) -> Vec<Map<String, Json>> {
        self.array(section)
            .map(|a| a.iter().map(table_to_json).collect())
            .unwrap_or_default()
    }

    /// Entry `id` of `section`.
    pub fn get(&self, section: Section, id: &str) -> Option<Map<String, Json>> {
        let a = self.array(section)?;
        a.iter()
            .find(|t| section.id_of_table(t).as_deref() == Some(id))
            .map(table_to_json)
    }

    /// Adds `entry` at the end of `section` (after its last entry in the file).
    pub fn create(&mut self, section: Section, entry: &Map<String, Json>) -> Result<(), EditError> {
        let id = section.id_of_json(entry).ok_or_else(|| {
            EditError::Body(format!(
                "a {} needs {}",
                section.singular(),
                match section {
                    Section::Dids => "\"number\" or \"prefix\" (a string)".to_owned(),
                    _ => format!("{:?} (a string)", section.id_key()),
                }
            ))
        })?;
        if self.get(section, &id).is_some() {
            return Err(EditError::Exists(format!(
                "{} {id:?} exists already: PUT it to change it",
                section.singular()
            )));
        }
        let mut table = json_to_table(entry)?;
        let array = self.array_mut(section)?;
        // Right after the last entry: tables print in position order, ties in array order.
        if let Some(last) = array.iter().filter_map(Table::position).max() {
            table.set_position(last);
        }
        array.push(table);
        Ok(())
    }

    /// Replaces entry `id` of `section` with `entry`, in its place and with the comments
    /// above it.
    pub fn replace(
        &mut self,
        section: Section,
        id: &str,
        entry: &Map<String, Json>,
    ) -> Result<(), EditError> {
        let fresh = json_to_table(entry)?;
        let table = self
            .array_mut(section)?
            .iter_mut()
            .find(|t| section.id_of_table(t).as_deref() == Some(id))
            .ok_or_else(|| not_found(section, id))?;
        table.clear();
        for (k, v) in &fresh {
            table.insert(k, v.clone());
        }
        Ok(())
    }

    /// Removes entry `id` of `section`.
    pub fn delete(&mut self, section: Section, id: &str) -> Result<(), EditError> {
        let array = self.array_mut(section)?;
        let i = array
            .iter()
            .position(|t| section.id_of_table(t).as_deref() == Some(id))
            .ok_or_else(|| not_found(section, id))?;
        array.remove(i);
        if array.is_empty() {
            self.0.remove(section.key());
        }
        Ok(())
    }

    fn array(&self, section: Section) -> Option<&ArrayOfTables> {
        self.0.get(section.key())?.as_array_of_tables()
    }

    fn array_mut(&mut self, section: Section) -> Result<&mut ArrayOfTables, EditError> {
        let item = self
            .0
            .entry(section.key())
            .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
        item.as_array_of_tables_mut().ok_or_else(|| {
            EditError::Text(format!(
                "{:?} is not an array of tables ([[{0}]])",
                section.key()
            ))
        })
    }
}

fn not_found(section: Section, id: &str) -> EditError {
    EditError::NotFound(format!("no {} {id:?}", section.singular()))
}

/// A JSON object as a table; `null` members are left out.
fn json_to_table(entry: &Map<String, Json>) -> Result<Table, EditError> {
    let mut t = Table::new();
    for (k, v) in entry {
        if let Some(v) = json_to_value(k, v)? {
            t.insert(k, Item::Value(v));
        }
    }
    Ok(t)
}

fn json_to_value(key: &str, v: &Json) -> Result<Option<Value>, EditError> {
    Ok(Some(match v {
        Json::Null => return Ok(None),
        Json::Bool(b) => Value::from(*b),
        Json::String(s) => Value::from(s.as_str()),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) if n.is_f64() => Value::from(f),
            _ => return Err(EditError::Body(format!("{key}: {n} is out of range"))),
        },
        Json::Array(items) => {
            let mut a = Array::new();
            for item in items {
                if let Some(v) = json_to_value(key, item)? {
                    a.push(v);
                }
            }
            Value::Array(a)
        }
        Json::Object(members) => {
            let mut t = InlineTable::new();
            for (k, v) in members {
                if let Some(v) = json_to_value(&format!("{key}.{k}"), v)? {
                    t.insert(k, v);
                }
            }
            Value::InlineTable(t)
        }
    }))
}

fn table_to_json(t: &Table) -> Map<String, Json> {
    t.iter()
        .filter_map(|(k, item)| Some((k.to_owned(), item_to_json(item)?)))
        .collect()
}

fn item_to_json(item: &Item) -> Option<Json> {
    match item {
        Item::Value(v) => Some(value_to_json(v)),
        Item::Table(t) => Some(Json::Object(table_to_json(t))),
        Item::ArrayOfTables(a) => Some(Json::Array(
            a.iter().map(|t| Json::Object(table_to_json(t))).collect(),
        )),
        Item::None => None,
    }
}

fn value_to_json(v: &Value) -> Json {
    match v {
        Value::String(s) => Json::String(s.value().clone()),
        Value::Integer(i) => Json::from(*i.value()),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f.value()).map_or(Json::Null, Json::Number)
        }
        Value::Boolean(b) => Json::Bool(*b.value()),
        Value::Datetime(d) => Json::String(d.value().to_string()),
        Value::Array(a) => Json::Array(a.iter().map(value_to_json).collect()),
        Value::InlineTable(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), value_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEXT: &str = "# the operator's comment\n[server]\nhttp_listen = \"127.0.0.1:8080\"\n\n\
        # carriers\n[[trunks]]\nname = \"carrier-b\"   # the cheap one\naddress = \"127.0.0.1:5090\"\n\n\
        [[trunks]]\nname = \"origin-a\"\ninbound_from = [\"127.0.0.1/32\"]\n\n\
        [[queues]]\nname = \"support\"\nskills = { support = 1 }\n\n\
        [[dids]]\nnumber = \"15550100\"\nqueue = \"support\"\n\n\
        [[dids]]\nprefix = \"1666\"\nqueue = \"support\"\n\n\
        [routing]\ndeck = \"d.csv\"  # relative\n";

    fn obj(v: &Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn entries_read_as_json_by_their_ids() {
        let doc = ConfigDoc::parse(TEXT).unwrap();
        let trunks = doc.list(Section::Trunks);
        assert_eq!(trunks.len(), 2);
        assert_eq!(
            Json::Object(trunks[0].clone()),
            json!({"name": "carrier-b", "address": "127.0.0.1:5090"})
        );
        assert_eq!(
            Json::Object(doc.get(Section::Queues, "support").unwrap()),
            json!({"name": "support", "skills": {"support": 1}})
        );
        assert!(doc.get(Section::Dids, "15550100").is_some());
        assert_eq!(doc.get(Section::Dids, "1666*").unwrap()["prefix"], "1666");
        assert!(doc.get(Section::Dids, "1666").is_none());
        assert!(doc.get(Section::Agents, "agent1").is_none());
    }

    #[test]
    fn a_created_entry_follows_the_last_of_its_kind_and_the_rest_of_the_file_stays() {
        let mut doc = ConfigDoc::parse(TEXT).unwrap();
        let new = obj(
            &json!({"name": "carrier-x", "address": "127.0.0.1:5099", "register": false, "options_interval_s": 0, "username": null}),
        );
        doc.create(Section::Trunks, &new).unwrap();
        let text = doc.text();
        for kept in [
            "# the operator's comment",
            "# carriers",
            "name = \"carrier-b\"   # the cheap one",
            "deck = \"d.csv\"  # relative",
        ] {
            assert!(text.contains(kept), "{kept:?} lost:\n{text}");
        }
        let x = text.find("carrier-x").unwrap();
        assert!(
            x > text.find("origin-a").unwrap() && x < text.find("[[queues]]").unwrap(),
            "{text}"
        );
        assert!(!text.contains("username"), "{text}");
        let doc = ConfigDoc::parse(&text).unwrap();
        assert_eq!(
            doc.get(Section::Trunks, "carrier-x").unwrap()["options_interval_s"],
            0
        );
        // The text is still a TOML document the config loader reads.
        let _: toml::Table = toml::from_str(&text).unwrap();
    }

    #[test]
    fn a_first_entry_of_a_kind_starts_its_array() {
        let mut doc = ConfigDoc::parse(TEXT).unwrap();
        let agent = obj(&json!({"user": "agent9", "skills": {"support": 4, "sales": 2}}));
        doc.create(Section::Agents, &agent).unwrap();
        let back = ConfigDoc::parse(&doc.text()).unwrap();
        assert_eq!(
            Json::Object(back.get(Section::Agents, "agent9").unwrap()),
            json!({"user": "agent9", "skills": {"support": 4, "sales": 2}})
        );
    }

    #[test]
    fn create_refuses_a_duplicate_and_an_entry_without_its_id() {
        let mut doc = ConfigDoc::parse(TEXT).unwrap();
        let dup = obj(&json!({"name": "carrier-b"}));
        assert!(matches!(
            doc.create(Section::Trunks, &dup),
            Err(EditError::Exists(_))
        ));
        let nameless = obj(&json!({"address": "127.0.0.1:1"}));
        let e = doc.create(Section::Trunks, &nameless).unwrap_err();
        assert_eq!(
            e,
            EditError::Body("a trunk needs \"name\" (a string)".into())
        );
        let e = doc
            .create(Section::Dids, &obj(&json!({"queue": "support"})))
            .unwrap_err();
        assert!(e.to_string().contains("\"number\" or \"prefix\""), "{e}");
        assert_eq!(doc.text(), TEXT);
    }

    #[test]
    fn replace_keeps_the_place_and_the_comment_above_and_delete_removes() {
        let mut doc = ConfigDoc::parse(TEXT).unwrap();
        let q = obj(&json!({"name": "support", "ring_timeout_s": 9, "skills": {"support": 2}}));
        doc.replace(Section::Queues, "support", &q).unwrap();
        let mut b = obj(&json!({"address": "127.0.0.1:6000"}));
        Section::Trunks.set_id(&mut b, "carrier-b").unwrap();
        doc.replace(Section::Trunks, "carrier-b", &b).unwrap();
        let text = doc.text();
        assert!(text.contains("# carriers\n[[trunks]]\n"), "{text}");
        assert!(text.find("127.0.0.1:6000").unwrap() < text.find("origin-a").unwrap());
        let back = ConfigDoc::parse(&text).unwrap();
        assert_eq!(
            back.get(Section::Queues, "support").unwrap()["ring_timeout_s"],
            9
        );
        assert!(matches!(
            doc.replace(Section::Queues, "sales", &q),
            Err(EditError::NotFound(_))
        ));
        doc.delete(Section::Dids, "1666*").unwrap();
        doc.delete(Section::Dids, "15550100").unwrap();
        assert!(!doc.text().contains("[[dids]]"), "{}", doc.text());
        assert!(matches!(
            doc.delete(Section::Dids, "15550100"),
            Err(EditError::NotFound(_))
        ));
        let _: toml::Table = toml::from_str(&doc.text()).unwrap();
    }

    #[test]
    fn a_body_naming_another_entry_than_the_path_is_refused() {
        let mut b = obj(&json!({"name": "carrier-c"}));
        let e = Section::Trunks.set_id(&mut b, "carrier-b").unwrap_err();
        assert!(
            e.to_string().contains("renaming is a delete and a create"),
            "{e}"
        );
        let mut d = Map::new();
        Section::Dids.set_id(&mut d, "1777*").unwrap();
        assert_eq!(Json::Object(d), json!({"prefix": "1777"}));
    }

    #[test]
    fn values_convert_both_ways() {
        let entry = obj(
            &json!({"s": "x", "i": -3, "f": 0.5, "b": true, "a": [1, "two"], "t": {"k": [true]}}),
        );
        let mut doc = ConfigDoc::parse("").unwrap();
        let mut e = entry.clone();
        e.insert("name".into(), json!("n"));
        doc.create(Section::Queues, &e).unwrap();
        let back = ConfigDoc::parse(&doc.text()).unwrap();
        assert_eq!(back.get(Section::Queues, "n").unwrap(), e);
        let big = obj(&json!({"name": "n2", "x": u64::MAX}));
        assert!(matches!(
            doc.create(Section::Queues, &big),
            Err(EditError::Body(_))
        ));
    }
}
