//! A running `chukei explore` on a free port, stopped when dropped (also
//! when a test fails).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

pub struct Explorer {
    child: Child,
    /// The port it serves on, read from the URL it prints first.
    pub port: u16,
}

impl Explorer {
    /// Starts `chukei explore ARGS --port 0`.
    pub fn start(args: &[&str]) -> Explorer {
        Explorer::start_with(args, |_| {})
    }

    /// As [`Explorer::start`], with the command configured further by
    /// `setup` (environment, a piped stderr).
    pub fn start_with(args: &[&str], setup: impl FnOnce(&mut Command)) -> Explorer {
        let mut command = super::cli::command();
        command.arg("explore").args(args).args(["--port", "0"]);
        command.stdout(Stdio::piped());
        setup(&mut command);
        let mut child = command.spawn().expect("the chukei binary runs");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("a URL with a port: {first}"));
        Explorer { child, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The page at `path` as headless Chromium renders it.
    pub fn page(&self, path: &str) -> String {
        super::chromium::rendered_dom(&format!("{}{path}", self.base()), 2000)
    }

    /// Stops the server; what it wrote to stderr, if that was piped.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        stderr
    }
}

impl Drop for Explorer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
