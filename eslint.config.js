// Lint rules: the recommended sets, type-only imports marked as such, and no enums (not erasable).
// The import boundaries are not checked here but by dependency-cruiser, the second half of
// `npm run lint`, from the tables of docs/architecture.md (ADR 0018).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/node_modules/**', '.cutover/**', 'bench/results/**', 'bench/.snapshots/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly', performance: 'readonly', Response: 'readonly', Request: 'readonly', Headers: 'readonly', EventSource: 'readonly', document: 'readonly', window: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use a union of string literals: enums are not erasable.' }],
    },
  },
  {
    // The deployment pipeline and the agent stay made of short functions: a step is a runner, not
    // a branch of one long closure (issue 15, ADR 0020). Blank lines and comments do not count.
    files: ['src/deploy/**/*.ts', 'src/agent/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 150, skipBlankLines: true, skipComments: true }] },
  },
);
