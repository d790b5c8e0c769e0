// Tokenizes the repository's model files with the extension's grammar, as VS Code does (vscode-textmate with
// Oniguruma), and checks the scopes of a few words whose role is known. Run with `npm test`.
const fs = require('fs');
const path = require('path');
const assert = require('assert');
const { Registry, INITIAL, parseRawGrammar } = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const wasm = fs.readFileSync(path.join(path.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm'));
const onigLib = oniguruma.loadWASM(wasm.buffer).then(() => ({
  createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
  createOnigString: (s) => new oniguruma.OnigString(s),
}));
const grammarFile = path.join(__dirname, '..', 'syntaxes', 'model.tmLanguage.json');
const registry = new Registry({
  onigLib,
  loadGrammar: async () => parseRawGrammar(fs.readFileSync(grammarFile, 'utf8'), grammarFile),
});

/// The scope of each occurrence of `word` on lines containing `fragment`, innermost last.
function scopesOf(grammar, text, fragment, word) {
  let state = INITIAL;
  const found = [];
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, state);
    state = r.ruleStack;
    if (!line.includes(fragment)) continue;
    for (const t of r.tokens) {
      if (line.substring(t.startIndex, t.endIndex) === word) found.push(t.scopes[t.scopes.length - 1]);
    }
  }
  assert.ok(found.length > 0, `no token \`${word}\` on a line with \`${fragment}\``);
  return found;
}

(async () => {
  const grammar = await registry.loadGrammar('source.dsl-model');
  const models = path.join(__dirname, '..', '..', '..', 'Models');
  const alexnet = fs.readFileSync(path.join(models, 'alexnet.model'), 'utf8');
  const vgg16 = fs.readFileSync(path.join(models, 'vgg16.model'), 'utf8');
  const expect = (text, fragment, word, scope) =>
    scopesOf(grammar, text, fragment, word).forEach((s) => assert.strictEqual(s, scope, `\`${word}\` in \`${fragment}\``));
  expect(alexnet, 'AlexNet (Krizhevsky', '// AlexNet (Krizhevsky, Sutskever, Hinton 2012) on one device, the paper\'s two groups kept', 'comment.line.double-slash.model');
  expect(alexnet, 'network alexnet', 'network', 'keyword.other.network.model');
  expect(alexnet, 'network alexnet', 'alexnet', 'entity.name.type.model');
  expect(alexnet, 'conv 96', 'conv', 'entity.name.function.model');
  expect(alexnet, 'conv 96', 'relu', 'entity.name.function.model');
  expect(alexnet, 'conv 96', 'lrn', 'entity.name.function.model');
  expect(alexnet, 'conv 96', 'kernel', 'variable.parameter.model');
  expect(alexnet, 'conv 96', '11', 'constant.numeric.model');
  expect(alexnet, 'conv 96', '|>', 'keyword.operator.model');
  expect(alexnet, 'input 3', 'x', 'keyword.control.model');
  expect(alexnet, 'train', 'train', 'keyword.other.train.model');
  expect(vgg16, 'let block', 'let', 'keyword.other.let.model');
  expect(vgg16, 'let block', 'block', 'entity.name.function.model');
  expect(vgg16, 'let block', 'repeat', 'keyword.control.model');
  expect(vgg16, 'let block', 'convRelu', 'entity.name.function.model');
  expect(vgg16, 'let block', 'then', 'keyword.control.model');
  expect(vgg16, 'let block', 'maxpool', 'entity.name.function.model');
  expect(vgg16, 'data       folder', 'images/train', 'string.quoted.double.model');
  console.log('grammar: all checks passed');
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
