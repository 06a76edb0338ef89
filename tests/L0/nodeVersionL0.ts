// Prints the version of the Node that MockTestRunner runs L0 scripts on, for the handler test.
console.log(`node-version=${process.version}`);
