// Starts `archc lsp` (the language server, over stdio) for .arch files. Highlighting comes
// from syntaxes/arch.tmLanguage.json and works without the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("archc").get("path", "archc");
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "archc",
    "archc language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "arch" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
