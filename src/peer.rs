//! Peer mode on the command line: `--master`, `key init`, `watch`.

use std::path::PathBuf;
use std::time::Duration;

use saltwire_job::{Client, KeyStore, PeerClient};
use serde_json::json;

use crate::args::seconds;
use crate::output::{Sink, StreamLimit};
use crate::{exit, fail, usage};

/// Where and as whom to connect in peer mode.
#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    /// Run as a peer of the master at HOST[:PORT] (its ret_port, default 4506)
    /// instead of locally on the master host.
    #[arg(long, global = true, value_name = "HOST[:PORT]")]
    pub master: Option<String>,
    /// The minion id to authenticate as (default: the id `key init` made last).
    #[arg(long, global = true)]
    pub id: Option<String>,
    /// The key directory (default: $SALTWIRE_HOME, else ~/.config/saltwire).
    #[arg(long, global = true, value_name = "DIR", env = "SALTWIRE_HOME")]
    pub keys_dir: Option<PathBuf>,
}

impl PeerArgs {
    fn store(&self) -> Result<KeyStore, i32> {
        let dir = self.keys_dir.clone().unwrap_or_else(KeyStore::default_dir);
        KeyStore::open(&dir).map_err(|e| fail(&e))
    }

    fn id(&self, store: &KeyStore) -> Result<String, i32> {
        self.id.clone().or_else(|| store.default_id()).ok_or_else(|| {
            usage(&format!("no id: pass --id, or create a key with `saltwire key init --id ID` (key directory {})", store.dir().display()))
        })
    }

    /// A peer client, when `--master` was given.
    pub async fn connect(&self) -> Option<Result<Client, i32>> {
        let master = self.master.as_deref()?;
        Some(
            async {
                let store = self.store()?;
                let id = self.id(&store)?;
                PeerClient::connect(master, &store, &id)
                    .await
                    .map(Client::Peer)
                    .map_err(|e| fail(&e))
            }
            .await,
        )
    }
}

/// `saltwire key ...`.
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Create this client's key pair and say how the master accepts it.
    Init,
}

pub fn key(cmd: &KeyCommand, peer: &PeerArgs) -> i32 {
    match cmd {
        KeyCommand::Init => {
            let store = match peer.store() {
                Ok(s) => s,
                Err(code) => return code,
            };
            let id = peer
                .id
                .clone()
                .unwrap_or_else(|| format!("saltwire-{}", hostname()));
            let key = match store.init(&id) {
                Ok(k) => k,
                Err(e) => return fail(&e),
            };
            let fingerprint = key.public_key().fingerprint();
            println!(
                "Created the key pair for `{id}` in {dir}
  public key:  {pubkey}
  fingerprint: {fingerprint}

On the master:
  1. accept the key (check that `salt-key -f {id}` shows the fingerprint above):
       salt-key -a {id}
  2. let `{id}` publish, in the master config (then restart salt-master):
       peer:
         {id_re}:
           - .*
     (narrow `.*` to the functions it should run, e.g. `myproject.*` and `saltutil.find_job`)

Then: saltwire --master MASTER_HOST run '*' test.ping

Note: to Salt, `{id}` is an accepted minion. `salt '*' ...` will target it too and
list it as not returning; leave it out with a compound target:
  salt -C '* and not {id}' test.ping",
                dir = store.dir().display(),
                pubkey = store.public_key_path(&id).display(),
                id_re = regex_escape(&id),
            );
            exit::OK
        }
    }
}

/// `saltwire watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Output format.
    #[arg(long = "out", value_enum, default_value = "pretty")]
    out: crate::events::EventFormat,
    /// Exit after this many publications.
    #[arg(long)]
    count: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long, value_parser = seconds)]
    deadline: Option<Duration>,
}

pub async fn watch(a: WatchArgs, peer: &PeerArgs) -> i32 {
    let Some(master) = peer.master.as_deref() else {
        return usage(
            "watch needs --master HOST[:PORT] (it reads the publication stream as a peer)",
        );
    };
    let client = async {
        let store = peer.store()?;
        let id = peer.id(&store)?;
        PeerClient::connect(master, &store, &id)
            .await
            .map_err(|e| fail(&e))
    }
    .await;
    let client = match client {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut publications = match client.publications().await {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let mut sink = match Sink::open(None) {
        Ok(s) => s,
        Err(e) => return usage(&e.to_string()),
    };
    let mut limit = StreamLimit::new(a.count, a.deadline);
    loop {
        let Some(item) = limit.next(publications.recv()).await else {
            return exit::OK;
        };
        match item {
            Some(Ok(load)) => {
                limit.count_one();
                let data = load.to_json();
                match a.out {
                    crate::events::EventFormat::Jsonl => {
                        sink.json_line(&json!({"publication": data}))
                    }
                    crate::events::EventFormat::Pretty => sink.write(&format!(
                        "{}\n",
                        serde_json::to_string_pretty(&data).unwrap_or_default()
                    )),
                }
            }
            Some(Err(e)) => eprintln!("saltwire: a publication could not be read: {e}"),
            None => {
                eprintln!("saltwire: the publication stream closed");
                return exit::UNREACHABLE;
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "client".into())
}

fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
