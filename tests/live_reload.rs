//! Live changes: a valid edit is taken by new calls while a call in progress keeps its tree;
//! a broken edit is refused and the running switchboard stays in service.

use centralino::live::{Live, Loaded};
use centralino::switchboard::Paths;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn setup() -> (tempfile::TempDir, Paths) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("config"), &dir.path().join("config"));
    copy_dir(Path::new("ivr-trees"), &dir.path().join("ivr-trees"));
    let paths = Paths {
        config: dir.path().join("config/centralino.toml"),
        trees: dir.path().join("ivr-trees"),
        sounds: std::fs::canonicalize("sounds").unwrap(),
    };
    (dir, paths)
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn option_9_of_main_menu(l: &Loaded) -> String {
    let tree = &l.switchboard.trees["centralino-unico-nazionale"];
    match &tree.def.nodes["main_menu"].value {
        centralino::ivr::Node::Menu(m) => m.options.get(&centralino::ivr::Key('9')).unwrap().value.clone(),
        _ => panic!("main_menu is a menu"),
    }
}

#[test]
fn broken_edits_are_refused_and_valid_ones_taken() {
    let (_dir, paths) = setup();
    let (loaded, _) = Loaded::load(&paths).unwrap();
    let live = Live::new(paths.clone(), loaded);
    let in_progress = live.current();
    let tree = paths.trees.join("centralino-unico-nazionale.yaml");

    edit(&tree, "\"9\": main_menu", "\"9\": main_menuu");
    assert!(!live.reload(), "an unknown node is refused");
    assert_eq!(option_9_of_main_menu(&live.current()), "main_menu", "the running tree stays");

    edit(&tree, "\"9\": main_menuu", "\"9\": welcome");
    assert!(live.reload());
    assert_eq!(option_9_of_main_menu(&live.current()), "welcome", "new calls use the edit");
    assert_eq!(option_9_of_main_menu(&in_progress), "main_menu", "a call in progress keeps its tree");

    edit(&paths.config, "max_calls = ", "max_calls = \"lots\" #");
    assert!(!live.reload(), "a broken configuration is refused too");
    assert_eq!(option_9_of_main_menu(&live.current()), "welcome");
}

#[tokio::test]
async fn file_changes_are_picked_up_by_the_watcher() {
    let (_dir, paths) = setup();
    let (loaded, _) = Loaded::load(&paths).unwrap();
    let live = Live::new(paths.clone(), loaded);
    tokio::spawn(Arc::clone(&live).watch(Duration::from_millis(100)));
    tokio::time::sleep(Duration::from_millis(150)).await;
    // File modification times have a coarse resolution on some file systems.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    edit(&paths.trees.join("centralino-unico-nazionale.yaml"), "\"9\": main_menu", "\"9\": welcome");
    let mut taken = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if option_9_of_main_menu(&live.current()) == "welcome" {
            taken = true;
            break;
        }
    }
    assert!(taken, "the watcher reloads within seconds of the edit");
}
