/** The one kafkajs internal that requestQueueFix.ts patches (kafkajs ships no types for it). */
declare module "kafkajs/src/network/requestQueue/index.js" {
  const RequestQueue: abstract new (...args: never[]) => object;
  export default RequestQueue;
}
