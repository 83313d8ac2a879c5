export * as age from "age-encryption";
