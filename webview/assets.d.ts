// Stylesheets imported for their side effect: esbuild writes them beside the bundle (studio.css).
declare module "*.css";
