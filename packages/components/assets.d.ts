/** Stylesheets imported as text (`with { type: "text" }`), which Bun's bundler inlines. */
declare module "*.css" {
  const text: string;
  export default text;
}
