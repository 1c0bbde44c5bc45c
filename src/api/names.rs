//! `GET /api/names`: what the pages show instead of ids, from the configuration: the names of
//! sections, regions, provinces, agencies and people (operators, officers, administrators),
//! the label of each number citizens call, and the titles of the voice portal's nodes.

use super::ApiState;
use super::auth::Principal;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::collections::BTreeMap;

type ById = BTreeMap<String, String>;

#[derive(Serialize)]
pub struct Names {
    sections: ById,
    regions: ById,
    provinces: ById,
    agencies: ById,
    /// Operators', officers', administrators' and agency staff's display names by user name.
    people: ById,
    /// The label of each called number (E.164).
    numbers: ById,
    /// Per tree, the titles of its nodes (a caller's path through the portal, as the console
    /// shows it).
    portal: BTreeMap<String, ById>,
}

fn by_id<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> ById {
    pairs.map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub async fn names(State(state): State<ApiState>, _: Principal) -> Json<Names> {
    let live = state.live.current();
    let c = &live.switchboard.config;
    let portal =
        live.switchboard.trees.iter().map(|(name, tree)| {
            (name.clone(), by_id(tree.def.titles.iter().map(|(node, title)| (&node.value, title))))
        });
    let people = c
        .operators
        .iter()
        .map(|o| (o.username.get_ref(), &o.display_name))
        .chain(c.officers.iter().map(|o| (o.username.get_ref(), &o.display_name)))
        .chain(c.administrators.iter().map(|a| (a.username.get_ref(), &a.display_name)))
        .chain(c.agency_staff.iter().map(|s| (s.username.get_ref(), &s.display_name)));
    Json(Names {
        sections: by_id(c.sections.iter().map(|(id, s)| (id.get_ref(), &s.name))),
        regions: by_id(c.regions.iter().map(|(id, r)| (id.get_ref(), &r.name))),
        provinces: by_id(c.provinces.iter().map(|(id, p)| (id.get_ref(), &p.name))),
        agencies: by_id(c.agencies.iter().map(|a| (a.id.get_ref(), &a.name))),
        people: by_id(people),
        numbers: by_id(c.numbers.iter().map(|n| (n.number.get_ref(), &n.label))),
        portal: portal.collect(),
    })
}
