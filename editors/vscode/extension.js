// Starts `dsl lsp` for .model files; everything else (errors, hover, completion, navigation) comes from the server.
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

exports.activate = function (context) {
  const command = vscode.workspace.getConfiguration('dsl').get('path') || 'dsl';
  client = new LanguageClient('dsl', 'dsl model files', { command, args: ['lsp'] }, { documentSelector: [{ language: 'model' }] });
  return client.start();
};

exports.deactivate = function () {
  return client ? client.stop() : undefined;
};
